"""The model: one flat parameter vector with named views (its layout from the cell table), its
PyTorch names, checkpoints and the gradient check."""
