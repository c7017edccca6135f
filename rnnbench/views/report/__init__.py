"""A grid's report: content.py says what it shows (blocks built from the tables), render.py
writes them as report.md and report.html."""
