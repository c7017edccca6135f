"""Compiled kernels: plain arrays in, plain arrays out.

Nothing in this package imports pandas, touches files or knows about the command line; the
Python layer (model.py, train.py) validates input, calls these and wraps the output.
"""
