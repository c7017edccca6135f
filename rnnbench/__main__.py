"""``python -m rnnbench``: the same as the ``rnnbench`` command."""
import sys

from .cli import main

sys.exit(main())
