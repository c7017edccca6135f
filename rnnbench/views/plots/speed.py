"""Training speed of each configuration: characters per second, one core per run (not drawn
for a single configuration: one bar compares nothing, and the report states its speed)."""
from matplotlib.ticker import EngFormatter

from .common import empty_figure, labels, plt, sns, sorted_runs


def speed(info, roles, runs):
    """Training speed (characters per second, one core) of each configuration; None for one
    configuration."""
    data = runs[runs["status"] == "ok"].copy()  # a diverged run stopped early: no fair speed
    if data.empty:
        return empty_figure(info, "speed", "no run finished without diverging")
    fields = [f for f in info.get("swept", []) if f in data.columns]
    data["configuration"] = labels(data, fields) if fields else "base"
    if data["configuration"].nunique() < 2:
        return None
    order = (list(dict.fromkeys(labels(sorted_runs(data, fields), fields))) if fields
             else ["base"])
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.3 * len(order)))
    sns.barplot(data=data, y="configuration", x="chars_per_s", order=order, ax=ax,
                errorbar=("pi", 100), color=sns.color_palette("viridis", 3)[1], capsize=0.2)
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.set_xlabel("characters per second (training, one core per run)")
    ax.set_ylabel(", ".join(fields) if fields else "")
    n_seeds = data.groupby("configuration")["seed"].nunique().max()
    spread = f" (mean of {n_seeds} seeds, whiskers: their range)" if n_seeds > 1 else ""
    ax.set_title(f"{info['name']}: training speed{spread}", fontweight="bold")
    return fig
