"""exp and tanh that LLVM can vectorise, accurate to a few ulp in float64.

pip's llvmlite has no SVML, so ``np.exp``/``np.tanh`` inside a kernel are one libm call per
element (6-20 ns) and stop a loop from vectorising. These are branch-free polynomials (Cephes'
coefficients) with 2**k built from its bits, so a loop over them becomes SIMD code.
"""
import numpy as np
from numba import types
from numba.core.extending import intrinsic

from .jit import inline_kernel

LOG2E = 1.4426950408889634
LN2_HI = 6.93145751953125e-1  # ln 2 split in two (Cody-Waite) so that k * LN2_HI is exact
LN2_LO = 1.42860682030941723212e-6
# exp(r) = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)) on |r| <= ln(2) / 2 (Cephes exp.c)
EP0, EP1, EP2 = 1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1
EQ0, EQ1 = 3.00198505138664455042e-6, 2.52448340349684104192e-3
EQ2, EQ3 = 2.27265548208155028766e-1, 2.00000000000000000009e0
# tanh(x) = x + x^3 P(x^2) / Q(x^2) on |x| < 0.625 (Cephes tanh.c)
TP0, TP1, TP2 = -9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3
TQ0, TQ1, TQ2 = 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3
EXP_MIN = -708.0  # exp(-708) is still a normal number; below that the result is clamped


@intrinsic
def _bits_to_float64(typingctx, bits):
    """Reinterpret an int64 as the float64 with the same bits (a no-op in machine code)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@inline_kernel
def exp_neg(x):
    """exp(x) for x <= 0 (arguments below -708 give exp(-708) ~ 3e-308); NaN gives NaN."""
    xc = max(x, EXP_MIN)
    k = np.floor(xc * LOG2E + 0.5)
    r = (xc - k * LN2_HI) - k * LN2_LO
    rr = r * r
    p = r * ((EP0 * rr + EP1) * rr + EP2)
    q = ((EQ0 * rr + EQ1) * rr + EQ2) * rr + EQ3
    scale = _bits_to_float64((np.int64(k) + 1023) << 52)
    e = (1.0 + 2.0 * p / (q - p)) * scale
    return e if x == x else x


@inline_kernel
def tanh(x):
    """tanh(x) within a few ulp; NaN gives NaN."""
    ax = min(abs(x), 20.0)  # tanh(20) rounds to 1.0
    z = x * x
    small = x + x * z * ((TP0 * z + TP1) * z + TP2) / (((z + TQ0) * z + TQ1) * z + TQ2)
    e = exp_neg(-2.0 * ax)
    big = (1.0 - e) / (1.0 + e)
    big = big if x >= 0 else -big
    t = small if ax < 0.625 else big
    return t if x == x else x
