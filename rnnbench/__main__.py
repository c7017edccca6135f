"""``python -m rnnbench``: the same as the ``rnnbench`` command."""
import sys

from .cli.__init__ import main

sys.exit(main())
