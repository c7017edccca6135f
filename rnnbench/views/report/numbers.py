"""Numbers as the report writes them: never a 24-digit loss, empty when missing."""
import math

import numpy as np
import pandas as pd


def num(value, decimals=3, big=1e6):
    """A number for a table: ``decimals`` decimals, three significant digits with an exponent
    from ``big`` up (never a 24-digit number), empty when missing."""
    if value is None or pd.isna(value):
        return ""
    value = float(value)
    if not math.isfinite(value) or abs(value) >= big:
        return f"{value:.3g}"
    return f"{value:,.{decimals}f}" if decimals == 0 else f"{value:.{decimals}f}"


def novelty(value):
    """A sample's novelty to two decimals, empty when it has none."""
    return "" if value is None or not np.isfinite(value) else f"{value:.2f}"
