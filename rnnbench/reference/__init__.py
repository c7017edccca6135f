"""Plain implementations, independent of the kernels: min-char-rnn in NumPy, every cell in NumPy,
and the same training in PyTorch (the yardsticks of the tests and the benchmarks)."""
