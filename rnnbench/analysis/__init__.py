"""Numbers from a grid's tables: seed statistics, effects of each swept field, equal budgets and the
verdict in words (no plotting, no files)."""
