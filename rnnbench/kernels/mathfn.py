"""exp, tanh and sigmoid that LLVM can vectorise, a few ulp from libm, in the argument's dtype.

pip's llvmlite has no SVML, so ``np.exp``/``np.tanh`` inside a kernel are one libm call per
element (6-20 ns) and stop a loop from vectorising. These are branch-free polynomials (Cephes'
coefficients) with 2**k built from its bits, so a loop over them becomes SIMD code. Each has a
float64 and a float32 body chosen at compile time by the argument's type: a float32 kernel
stays float32 (a Python float constant would promote every expression to float64, halving the
SIMD width and adding conversions). For the same reason the kernels write 0, 1 and 2 as the
float32 constants ZERO, ONE, TWO: exact in either type, and float64 math stays float64.
"""
import numpy as np
from numba import types
from numba.core.extending import intrinsic, overload

from .jit import JIT_OPTIONS, kernel

F32 = np.float32

# ---- float64: Cephes exp.c and tanh.c --------------------------------------------------------
LOG2E = 1.4426950408889634
LN2_HI = 6.93145751953125e-1  # ln 2 split in two (Cody-Waite) so that k * LN2_HI is exact
LN2_LO = 1.42860682030941723212e-6
# exp(r) = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)) on |r| <= ln(2) / 2
EP0, EP1, EP2 = 1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1
EQ0, EQ1 = 3.00198505138664455042e-6, 2.52448340349684104192e-3
EQ2, EQ3 = 2.27265548208155028766e-1, 2.00000000000000000009e0
# tanh(x) = x + x^3 P(x^2) / Q(x^2) on |x| < 0.625
TP0, TP1, TP2 = -9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3
TQ0, TQ1, TQ2 = 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3
EXP_MIN = -708.0  # exp(-708) is still a normal number; below that the result is clamped
TANH_ONE = 20.0   # tanh(20) rounds to 1.0

# ---- float32: Cephes expf.c and tanhf.c ------------------------------------------------------
LOG2E_F, LN2_HI_F, LN2_LO_F = F32(1.44269504088896341), F32(0.693359375), F32(-2.12194440e-4)
# exp(r) = 1 + r + r^2 P(r) on |r| <= ln(2) / 2
XP = tuple(F32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                            4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
# tanh(x) = x + x^3 P(x^2) on |x| < 0.625
HP = tuple(F32(c) for c in (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2,
                            1.33314422036e-1, -3.33332819422e-1))
EXP_MIN_F = F32(-87.0)   # exp(-87) ~ 1.6e-38 is still normal: no subnormal probabilities
TANH_ONE_F = F32(9.0)    # tanh(9) rounds to 1.0 in float32
ZERO, HALF, ONE, TWO = F32(0), F32(0.5), F32(1), F32(2)
SMALL_F = F32(0.625)
BIAS_F, SHIFT_F = np.int32(127), np.int32(23)


def _bitcast(from_type, to_type):
    @intrinsic
    def cast(typingctx, bits):
        """Reinterpret an integer as the float with the same bits (no machine code at all)."""
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(to_type))
        return to_type(from_type), codegen
    return cast


_bits_to_float64 = _bitcast(types.int64, types.float64)
_bits_to_float32 = _bitcast(types.int32, types.float32)


def _exp_neg64(x):
    xc = max(x, EXP_MIN)
    k = np.floor(xc * LOG2E + 0.5)
    r = (xc - k * LN2_HI) - k * LN2_LO
    rr = r * r
    p = r * ((EP0 * rr + EP1) * rr + EP2)
    q = ((EQ0 * rr + EQ1) * rr + EQ2) * rr + EQ3
    scale = _bits_to_float64((np.int64(k) + 1023) << 52)
    e = (1.0 + 2.0 * p / (q - p)) * scale
    return e if x == x else x


def _exp_neg32(x):
    xc = max(x, EXP_MIN_F)
    k = np.floor(xc * LOG2E_F + HALF)
    r = (xc - k * LN2_HI_F) - k * LN2_LO_F
    p = (((((XP[0] * r + XP[1]) * r + XP[2]) * r + XP[3]) * r + XP[4]) * r + XP[5])
    scale = _bits_to_float32((np.int32(k) + BIAS_F) << SHIFT_F)
    e = (p * (r * r) + r + ONE) * scale
    return e if x == x else x


def _tanh64(x):
    ax = min(abs(x), TANH_ONE)
    z = x * x
    small = x + x * z * ((TP0 * z + TP1) * z + TP2) / (((z + TQ0) * z + TQ1) * z + TQ2)
    e = exp_neg(-2.0 * ax)
    big = (1.0 - e) / (1.0 + e)
    big = big if x >= 0 else -big
    t = small if ax < 0.625 else big
    return t if x == x else x


def _tanh32(x):
    ax = min(abs(x), TANH_ONE_F)
    z = x * x
    small = ((((HP[0] * z + HP[1]) * z + HP[2]) * z + HP[3]) * z + HP[4]) * z * x + x
    e = exp_neg(-TWO * ax)
    big = (ONE - e) / (ONE + e)
    big = big if x >= ZERO else -big
    t = small if ax < SMALL_F else big
    return t if x == x else x


def _by_dtype(f64, f32, doc):
    """A function for compiled code whose body is chosen by its argument's float type."""
    def stub(x):
        raise NotImplementedError("only callable from compiled code")
    stub.__doc__ = doc

    @overload(stub, jit_options=dict(error_model=JIT_OPTIONS["error_model"]))
    def _choose(x):
        return f32 if x == types.float32 else f64
    return stub


exp_neg = _by_dtype(_exp_neg64, _exp_neg32,
                    "exp(x) for x <= 0, clamped below at a normal number (float64: exp(-708) "
                    "~ 3e-308, float32: exp(-87) ~ 2e-38); NaN gives NaN.")
tanh = _by_dtype(_tanh64, _tanh32, "tanh(x) within a few ulp; NaN gives NaN.")


@kernel
def sigmoid(x):
    """1 / (1 + exp(-x)), from exp of a non-positive argument on either side (never overflows)."""
    e = exp_neg(-abs(x))
    s = ONE / (ONE + e)
    return s if x >= ZERO else e * s
