"""A grid's report: content.py says what it shows (blocks built from the tables) and writes it,
render.py writes blocks as report.md and report.html (a grid's and a run's, run.py)."""
