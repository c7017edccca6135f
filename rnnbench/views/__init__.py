"""What a grid's results folder shows: plots and the report, drawn from its tables alone (never
Numba)."""
