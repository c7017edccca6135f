"""The softmax cross-entropy of the output layer, with a loss exact to an ulp or two."""
import numpy as np

from .jit import kernel
from .mathfn import exp_neg


@kernel
def softmax_xent_rows(logits, targets):
    """Turn each row of ``logits`` into probabilities in place; return the summed cross-entropy.

    -log softmax(y)[k] = log(sum_j exp(y_j - m)) + m - y_k with m = max(y): the shifted form
    never overflows (min-char-rnn's exp(y)/sum(exp(y)) does, in float32 at large hidden sizes).
    A target of -1 masks its row (records mode's padding): no loss, the row is left as is.
    """
    T, V = logits.shape
    loss = 0.0
    comp = 0.0  # Neumaier-compensated sum: the loss stays exact to an ulp or two, which is what
    # lets a centred difference of two losses resolve gradients of 1e-5 (gradient check).
    for t in range(T):
        if targets[t] < 0:
            continue
        row = logits[t]
        m = row[0]
        for j in range(1, V):
            if row[j] > m:
                m = row[j]
        zk = row[targets[t]] - m
        # r = sum of exp(y_j - m) over all j but the maximum (whose term is 1), so that
        # log(s) = log1p(r) keeps every digit of the small terms.
        for j in range(V):
            row[j] = exp_neg(row[j] - m)
        r = -1.0
        for j in range(V):
            r += row[j]
        s = r + 1.0
        term = np.log1p(r) - zk
        total = loss + term
        if abs(loss) >= abs(term):
            comp += (loss - total) + term
        else:
            comp += (term - total) + loss
        loss = total
        inv = logits.dtype.type(1.0 / s)
        for j in range(V):
            row[j] *= inv
    return loss + comp
