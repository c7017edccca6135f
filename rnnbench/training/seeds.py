"""Every random stream of a run comes from its one seed (or the grid's sample seed); this is
the list of what is drawn from which.

- the weights: ``np.random.default_rng(seed)`` in Model.create, in layout order;
- dropout masks: ``kernels.dropout.dropout_key(seed, update)``, a counter-based stream, so a
  mask depends only on the seed and the update, not on how the run is chunked;
- training samples: ``derived_seed(seed, TRAINING_SAMPLE, update)``;
- final samples (a grid's ``samples:``): ``derived_seed(samples.seed, FINAL_SAMPLE)``, one for
  every temperature, so that only the temperature differs;
- the report's passage: PASSAGE_SEED itself;
- ``rnnbench sample``: ``--seed`` .. ``--seed + --count - 1``;
- the gradient check's fixed dropout masks: seed + 1 (``rnnbench gradcheck``).
"""
import numpy as np

TRAINING_SAMPLE = 1  # purpose ids of derived_seed: never reuse one for another stream
FINAL_SAMPLE = 2
PASSAGE_SEED = 0


def derived_seed(seed, purpose, n=0):
    """A 32-bit seed for one use (``purpose`` id, update ``n``) of a run's seed."""
    return int(np.random.SeedSequence([seed, purpose, n]).generate_state(1)[0])
