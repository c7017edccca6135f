"""The plots of a grid's results folder: draw.py makes them all (loss curves, final losses,
speed), common.py holds what they share, status.py how diverged and failed runs appear."""
