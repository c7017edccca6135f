"""Engine benchmark: the compiled min-char-rnn loop against the NumPy reference, one process.

    python benchmarks/bench_engine.py            # same as `rnnbench bench`
"""
import sys

from rnnbench.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
