"""One module per recurrent cell: its step forward and its step backward for B streams, and
which of its units a ReLU fingerprint watches. network.py dispatches on the cell's code (see
variants.CELLS, which says how many gates, biases and state rows the cell has)."""
