"""rnnbench: fast, reproducible character-level RNN experiments.

The public names are imported lazily, so ``rnnbench --help`` starts without NumPy or Numba.
"""
__version__ = "0.1.0"

_LAZY = {
    "Corpus": ("rnnbench.text.corpus", "Corpus"),
    "Model": ("rnnbench.model.model", "Model"),
    "RunConfig": ("rnnbench.config", "RunConfig"),
    "RunResult": ("rnnbench.training.driver", "RunResult"),
    "train": ("rnnbench.training.driver", "train"),
    "gradcheck": ("rnnbench.model.gradcheck", "gradcheck"),
    "load_run": ("rnnbench.experiments.sources", "load_run"),
}
__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib  # here, not at the top: rnnbench.<Tab> lists the API only
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'rnnbench' has no attribute {name!r}")
