"""When a run has diverged: the rule the training driver applies between calls of the loop.

A run diverges when

- ``non_finite``: a chunk's loss is NaN or infinite (the compiled loop stops at it), or
- ``above_guessing``: at the end of a call of the loop (at most 250 updates apart), the median
  of the last ``WINDOW`` updates' training losses per character is above ``FACTOR`` times what
  uniform guessing gives, ln V (or times the first update's loss, when a model starts worse than
  guessing: char-rnn's guard compares with the initial loss).

The softmax is computed stably, so weights that explode keep the loss finite: it climbs to
1e3 .. 1e200 nats per character instead of becoming NaN, which the second rule catches. It is a
median, not a mean, because healthy runs can spike: a vanilla ReLU RNN with AdaGrad (task 2)
reaches 1.5e7 nats per character for two or three updates, recovers at once, and ends among
the best; a mean over 100 updates would condemn it. A run must stay above the threshold for
more than half of the window.

Measured (README, "Divergence"): over every run of the shipped grids the median never passed
1.12 x ln V (0.37 of the threshold); over 660 runs at learning rates 1e3 and 1e30 (every cell,
activation, optimizer, clip mode and dtype, records mode too) it was at least 742 nats per
character (53 times the threshold) when the rule fired, at the first check.
"""
import math
from dataclasses import dataclass

FACTOR = 3.0   # how far above guessing the loss must stay
WINDOW = 100   # the last updates whose median loss per character is compared
RULES = ("non_finite", "above_guessing")


@dataclass(frozen=True)
class Divergence:
    """The verdict: the update whose loss fired ``rule``, and a one-line explanation."""

    update: int
    rule: str
    error: str


class DivergenceCheck:
    """The rule for one run over a vocabulary of ``vocab_size`` symbols."""

    def __init__(self, vocab_size):
        self.guess = math.log(vocab_size)
        self.initial = None

    def start(self, first_loss_per_char):
        """Remember the loss per character of the first update (the untrained model's)."""
        self.initial = float(first_loss_per_char)

    @property
    def threshold(self):
        """FACTOR x max(ln V, the first update's loss per character), in nats per character."""
        initial = self.initial if self.initial is not None and math.isfinite(self.initial) else 0
        return FACTOR * max(self.guess, initial)

    def _reference(self):
        if self.initial is not None and self.initial > 1.01 * self.guess:
            return (f"{FACTOR:g} x {self.initial:.3f}, the first update's loss, worse than "
                    f"guessing's {self.guess:.3f}")
        return f"{FACTOR:g} x ln V = {FACTOR:g} x {self.guess:.3f}, uniform guessing"

    def non_finite(self, update, loss):
        """The verdict for a loss that became NaN or infinite at ``update``."""
        return Divergence(update, "non_finite",
                          f"loss became {loss} at update {update} (not finite)")

    def check(self, update, median, first):
        """None, or the verdict when ``median``, that of the losses per character of updates
        ``first`` .. ``update``, is above the threshold (NaN counts as above)."""
        if median <= self.threshold:
            return None
        return Divergence(update, "above_guessing", (
            f"loss per character stayed above {self.threshold:.3f} nats ({self._reference()}): "
            f"median {median:.3g} over updates {first:,}-{update:,}"))
