"""Files, safely: reading only regular files within limits, writing through a temporary file and
an atomic rename (a folder swapped in whole), one writer per folder (a lock)."""
