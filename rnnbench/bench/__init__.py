"""``rnnbench bench``: speed against plain NumPy and PyTorch, where the time goes, the speed goals."""
