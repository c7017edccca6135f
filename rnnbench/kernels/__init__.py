"""Compiled kernels: plain arrays in, plain arrays out (no I/O, no pandas, no command line).

The Python layer reaches them through rnnbench.compiled (which first empties a stale on-disk
cache); model/ and training/ check the input, call the kernels and wrap their output."""
