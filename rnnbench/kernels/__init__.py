"""Compiled kernels: plain arrays in, plain arrays out.

Nothing in this package imports pandas, touches files or knows about the command line; the
Python layer (model.py, train.py) validates input, calls these and wraps the output.
"""
from .cache_guard import drop_stale_cache

drop_stale_cache()
