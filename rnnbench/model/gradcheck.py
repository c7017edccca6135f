"""Analytic gradients against centred finite differences, for every parameter of any Model.

The check perturbs the model's flat parameter vector one element at a time and calls the
model's own loss, so every cell and layer count the package builds is covered without change.

Numerical gradient (sixth-order centred differences, step h):
    g_n = [45 (L(+h) - L(-h)) - 9 (L(+2h) - L(-2h)) + (L(+3h) - L(-3h))] / (60 h)
Its truncation error is O(h^6), so h can be large (1e-2) and the float64 rounding noise of the
loss, which grows as 1/h, stays near 1e-13: a plain two-point difference at h = 1e-5 is
limited to about 1e-5 relative error by that noise, whatever the analytic gradient.
Relative error per element:
    rel = |g_a - g_n| / max(|g_a| + |g_n|, floor),  floor = 1e-6 |L|
The loss L is a float64 number, rounded to about 3e-17 |L| (measured: noise of 4e-15 on a
loss of 116), so the numerical gradient carries an absolute noise of about 1e-14 |L| whatever
the step. An element whose gradient is below 1e-6 |L| cannot be resolved to 1e-7 relative by
any float64 difference; for those the check is absolute: |g_a - g_n| <= threshold * floor.

ReLU kinks: the loss of a ReLU network is smooth only between kinks (where a pre-activation
crosses 0), and a difference whose stencil straddles a kink measures neither one-sided slope.
So for ReLU models every stencil point also returns a fingerprint of the active set (which
units are > 0); when a point's set differs from the centre's, the step is cut tenfold and, if
a kink is still within 3 steps, that element is left out and counted (``skipped``) instead of
loosening the threshold for all. The step is not cut further because rounding noise grows as
1/h: at h = 1e-4 it alone is about 1e-6 of the floor, the size of the bound.
"""
import itertools
import numbers
from dataclasses import dataclass

import numpy as np

from ..variants import ACTIVATIONS, CELLS
from .model import Model

RELU_STEP_CUT = 10  # a ReLU stencil that crosses a kink is retried at step / RELU_STEP_CUT

# the numerical gradient: ((k, weight of L(+kh) - L(-kh)), ...) and the divisor of their sum
# (times h). "central" is the course's plain centred difference [L(+h) - L(-h)] / (2h).
METHODS = {"sixth": (((1, 45.0), (2, -9.0), (3, 1.0)), 60.0),
           "central": (((1, 1.0),), 2.0)}
METHOD_NAMES = {"sixth": "6th-order centred difference", "central": "plain centred difference"}
FORMULA = ("rel = |g_a - g_n| / max(|g_a| + |g_n|, floor), floor = 1e-6 |loss|; "
           "g_n: 6th-order centred difference")
DEFAULT_STEP = {"sixth": 1e-2, "central": 1e-4}


def default_threshold(method, step):
    """The bound a check passes: 1e-7 for sixth-order differences; for plain centred ones it
    follows the step. Measured at hidden 5 over 50 seeds x 4 chunks of the built-in text
    (README, "Gradient check"), the largest error of a vanilla RNN was 9.3e-6 at h = 1e-3
    (truncation, which grows as h^2), 8.1e-7 at h = 1e-4 and 9.7e-6 at h = 1e-5 (float64
    rounding of the loss, which grows as 1/h): the bound is three times that model,
    3 (9.3 h^2 + 1e-10 / h), 3.3e-6 at the course's h = 1e-4."""
    if method == "sixth":
        return 1e-7
    return 3.0 * (9.3 * step ** 2 + 1e-10 / step)
# the course's names (U, W, V, b, c of the vanilla RNN) for the package's; other layers get
# their number (U_2, ...); an LSTM's or GRU's gates are stacked in one U, W and b
COURSE_NAMES = {"Wxh": "U", "Whh": "W", "bh": "b", "bxh": "b", "bhh": "b_hh", "Why": "V",
                "by": "c"}


COURSE_NOTE = ("course: the assignment's names (U = W_xh, W = W_hh, V = W_hy, b, c); _2, _3: "
               "layers 2, 3; an LSTM's or GRU's U, W and b stack its gates' blocks (b_hh: "
               "the GRU's second bias)")


def course_name(name):
    """'Wxh' -> 'U', 'Whh_l1' -> 'W_2' (layers counted from 1), 'by' -> 'c'."""
    base, _, layer = name.partition("_l")
    short = COURSE_NAMES.get(base, base)
    return f"{short}_{int(layer) + 1}" if layer.isdigit() else short


@dataclass
class GradcheckResult:
    """Per-parameter errors and the verdict."""

    max_rel_error: float
    passed: bool
    params: dict  # name -> {"max_rel_error", "mean_rel_error", "max_abs_error", "size", "skipped"}
    threshold: float
    step: float
    floor: float
    loss: float
    skipped: int = 0  # elements left out because a ReLU kink lay within the stencil
    method: str = "sixth"

    @property
    def formula(self):
        return FORMULA.replace(METHOD_NAMES["sixth"], METHOD_NAMES[self.method])

    def to_json(self):
        return {"max_rel_error": self.max_rel_error, "passed": self.passed,
                "params": {k: {"max_rel_error": v["max_rel_error"],
                               "mean_rel_error": v["mean_rel_error"]}
                           for k, v in self.params.items()},
                "threshold": self.threshold, "step": self.step, "floor": self.floor,
                "skipped": self.skipped, "method": self.method, "formula": self.formula,
                "course_names": {k: course_name(k) for k in self.params}}


def _stencil(loss_at, theta, i, step, centre, method="sixth"):
    """The ``method``'s difference of element i, and whether every stencil point gave the ReLU
    fingerprint ``centre`` of the unperturbed model (loss_at returns (loss, fingerprint))."""
    old = theta[i]
    acc, same = 0.0, True
    weights, divisor = METHODS[method]
    for k, w in weights:
        theta[i] = old + k * step
        plus, fp = loss_at()
        same &= fp == centre
        theta[i] = old - k * step
        minus, fm = loss_at()
        same &= fm == centre
        acc += w * (plus - minus)
    theta[i] = old
    return acc / (divisor * step), same


def numerical_gradient(model, inputs, targets, h0=None, step=1e-2, dropout=0.0, mask_seed=0,
                       method="sixth"):
    """Centred finite differences (``method``: METHODS) of the model's loss for every element
    of theta.

    Returns (gradient, skipped): skipped marks ReLU elements whose stencil could not avoid a
    kink (their gradient is NaN); see the module docstring.
    """
    theta = model.theta
    num = np.zeros_like(theta)
    skipped = np.zeros(theta.size, dtype=bool)
    relu = model.activation == "relu"
    loss_at = model.loss_function(inputs, targets, h0, dropout, mask_seed, pattern=relu)
    steps = (step, step / RELU_STEP_CUT) if relu else (step,)
    _, centre = loss_at()  # theta is restored after every element: one centre serves all
    for i in range(theta.size):
        for h in steps:
            num[i], smooth = _stencil(loss_at, theta, i, h, centre, method)
            if smooth:
                break
        else:
            num[i], skipped[i] = np.nan, True
    return num, skipped


def relative_error(analytic, numeric, floor):
    return np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), floor)


def gradcheck(model, inputs, targets, h0=None, step=None, threshold=None, floor=None,
              dropout=0.0, mask_seed=0, method="sixth"):
    """Compare ``model.loss_and_grads`` with numerical gradients; returns a GradcheckResult.

    ``inputs``/``targets`` are T ids or B x T; ``dropout`` > 0 uses the fixed masks of
    ``mask_seed`` in every evaluation. ``method``: "sixth" (default; step 1e-2, bound 1e-7) or
    "central", the course's plain centred difference (step 1e-4, bound 3.3e-6; see
    default_threshold).
    """
    if model.dtype != np.float64:
        raise ValueError("the gradient check needs a float64 model")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    step = DEFAULT_STEP[method] if step is None else step
    threshold = default_threshold(method, step) if threshold is None else threshold
    check_step_threshold(step, threshold)
    loss, grads, _ = model.loss_and_grads(inputs, targets, h0, dropout, mask_seed)
    if floor is None:
        floor = 1e-6 * abs(loss)
    num, skipped = numerical_gradient(model, inputs, targets, h0, step, dropout, mask_seed,
                                      method)
    numeric, skip = model.views(num), model.views(skipped)
    params = {}
    for name, _ in model.layout:
        keep = ~skip[name]
        rel = relative_error(grads[name][keep], numeric[name][keep], floor)
        params[name] = dict(
            max_rel_error=float(rel.max()) if rel.size else 0.0,
            mean_rel_error=float(rel.mean()) if rel.size else 0.0,
            max_abs_error=float(np.abs(grads[name][keep] - numeric[name][keep]).max())
            if rel.size else 0.0,
            size=int(keep.size), skipped=int(skip[name].sum()))
    worst = max(p["max_rel_error"] for p in params.values())
    return GradcheckResult(worst, bool(worst <= threshold), params, threshold, step, floor, loss,
                           int(skipped.sum()), method)


def check_step_threshold(step, threshold):
    """A step in (0, 1] (the stencil reaches 3 steps; beyond 1 it measures nothing local) and a
    threshold in (0, 1] (a relative error as defined here never exceeds 1), or ValueError."""
    for name, value in (("step", step), ("threshold", threshold)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
            raise ValueError(f"{name} must be > 0 and <= 1, got {value!r}")


def format_table(result):
    """The result as an aligned text table with the formula underneath."""
    lines = [f"{'course':<8}{'param':<10}{'size':>8}{'max rel err':>14}{'mean rel err':>14}"
             f"{'max abs err':>14}"]
    for name, p in result.params.items():
        lines.append(f"{course_name(name):<8}{name:<10}{p['size']:>8}"
                     f"{p['max_rel_error']:>14.2e}{p['mean_rel_error']:>14.2e}"
                     f"{p['max_abs_error']:>14.2e}")
    verdict = "PASSED" if result.passed else "FAILED"
    lines.append(f"max relative error {result.max_rel_error:.2e} (threshold "
                 f"{result.threshold:.0e}): {verdict}")
    if result.skipped:
        lines.append(f"{result.skipped} elements left out: a ReLU kink within 3 steps even "
                     f"at step {result.step / RELU_STEP_CUT:g}")
    lines.append(f"{result.formula}; h = {result.step:g}, floor = {result.floor:.3g}")
    return "\n".join(lines)


def chunk_pair(ids, batch_size, seq_length):
    """(inputs, targets) from the first batch_size * (seq_length + 1) ids: T ids each for one
    stream, B x T for several (B consecutive chunks)."""
    B, T = batch_size, seq_length
    chunks = np.asarray(ids[:B * (T + 1)]).reshape(B, T + 1)
    return (chunks[0, :-1], chunks[0, 1:]) if B == 1 else (chunks[:, :-1], chunks[:, 1:])


MATRIX = dict(cell=tuple(CELLS), activation=tuple(ACTIVATIONS),
              num_layers=(1, 2, 3), dropout=(0.0, 0.5), batch_size=(1, 3))


def gradcheck_matrix(ids, vocab_size, hidden_size=5, seq_length=25, seed=0, init_scale=0.1,
                     step=1e-2, threshold=1e-6, **axes):
    """Gradient-check every combination of MATRIX (override an axis with a keyword). ``ids``
    holds at least 3 (seq_length + 1) characters; batch B reads B consecutive chunks of it.
    Yields one dict per combination."""
    check_step_threshold(step, threshold)
    grid = {k: axes.get(k, v) for k, v in MATRIX.items()}
    for combo in itertools.product(*grid.values()):
        c = dict(zip(grid, combo))
        model = Model.create(c["cell"], vocab_size, hidden_size, c["num_layers"],
                             c["activation"], "float64", seed, init_scale)
        xs, ys = chunk_pair(ids, c["batch_size"], seq_length)
        r = gradcheck(model, xs, ys, step=step, threshold=threshold, dropout=c["dropout"],
                      mask_seed=seed + 1)
        yield dict(c, max_rel_error=r.max_rel_error, skipped=r.skipped, passed=r.passed,
                   params=model.theta.size)
