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
"""
from dataclasses import dataclass

import numpy as np

FORMULA = ("rel = |g_a - g_n| / max(|g_a| + |g_n|, floor), floor = 1e-6 |loss|; "
           "g_n: 6th-order centred difference")
STENCIL = ((1, 45.0), (2, -9.0), (3, 1.0))  # (k, weight of L(+kh) - L(-kh)); divide by 60 h


@dataclass
class GradcheckResult:
    """Per-parameter errors and the verdict."""

    max_rel_error: float
    passed: bool
    params: dict  # name -> {"max_rel_error", "mean_rel_error", "max_abs_error", "size"}
    threshold: float
    step: float
    floor: float
    loss: float

    def to_json(self):
        return {"max_rel_error": self.max_rel_error, "passed": self.passed,
                "params": {k: {"max_rel_error": v["max_rel_error"],
                               "mean_rel_error": v["mean_rel_error"]}
                           for k, v in self.params.items()},
                "threshold": self.threshold, "step": self.step, "floor": self.floor,
                "formula": FORMULA}


def numerical_gradient(model, inputs, targets, h0=None, step=1e-2):
    """Sixth-order centred finite differences of ``model.loss`` for every element of theta."""
    theta = model.theta
    num = np.zeros_like(theta)
    for i in range(theta.size):
        old = theta[i]
        acc = 0.0
        for k, w in STENCIL:
            theta[i] = old + k * step
            plus = model.loss(inputs, targets, h0)
            theta[i] = old - k * step
            minus = model.loss(inputs, targets, h0)
            acc += w * (plus - minus)
        theta[i] = old
        num[i] = acc / (60.0 * step)
    return num


def relative_error(analytic, numeric, floor):
    return np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), floor)


def gradcheck(model, inputs, targets, h0=None, step=1e-2, threshold=1e-7, floor=None):
    """Compare ``model.loss_and_grads`` with numerical gradients; returns a GradcheckResult."""
    if model.dtype != np.float64:
        raise ValueError("the gradient check needs a float64 model")
    loss, grads, _ = model.loss_and_grads(inputs, targets, h0)
    if floor is None:
        floor = 1e-6 * abs(loss)
    numeric = model.views(numerical_gradient(model, inputs, targets, h0, step))
    params = {}
    for name, _ in model.layout:
        rel = relative_error(grads[name], numeric[name], floor)
        params[name] = dict(max_rel_error=float(rel.max()), mean_rel_error=float(rel.mean()),
                            max_abs_error=float(np.abs(grads[name] - numeric[name]).max()),
                            size=int(rel.size))
    worst = max(p["max_rel_error"] for p in params.values())
    return GradcheckResult(worst, bool(worst <= threshold), params, threshold, step, floor, loss)


def format_table(result):
    """The result as an aligned text table with the formula underneath."""
    lines = [f"{'param':<10}{'size':>8}{'max rel err':>14}{'mean rel err':>14}{'max abs err':>14}"]
    for name, p in result.params.items():
        lines.append(f"{name:<10}{p['size']:>8}{p['max_rel_error']:>14.2e}"
                     f"{p['mean_rel_error']:>14.2e}{p['max_abs_error']:>14.2e}")
    verdict = "PASSED" if result.passed else "FAILED"
    lines.append(f"max relative error {result.max_rel_error:.2e} (threshold "
                 f"{result.threshold:.0e}): {verdict}")
    lines.append(f"{FORMULA}; h = {result.step:g}, floor = {result.floor:.3g}")
    return "\n".join(lines)
