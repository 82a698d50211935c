"""exp, expm1 and log in plain arithmetic, so that compiled loops calling them vectorise.

A call into the C math library stops LLVM's loop vectoriser and spills every value the loop
holds in registers; these functions are additions, multiplications, one division and bit
operations on the float's representation, inlined into the loop, so a loop over patients runs
four (AVX2) or eight (AVX-512) patients per instruction. They are fdlibm's algorithms (Sun
Microsystems 1993; as in FreeBSD's and musl's libm), each under 1 ulp from the exact value
(fdlibm's bound; the largest errors seen are 0.87, 0.83 and 0.83 ulp, where glibc's exp and log
stay within about 0.52): they agree with glibc's bit for bit on about 90% of arguments and
otherwise differ by 1 ulp (tests/test_core_vmath.py). ``exp_above`` is a cheaper upper bound
of e^x, for tests that rule values out before computing them.

Why a result never depends on the machine: every operation is IEEE double arithmetic in
source order (no fused multiply-add: numba sets no fast-math flags), the same in a vector lane
as in a scalar remainder loop, so a patient's numbers do not depend on the vector width, on
which lane or thread computed them, or on the platform's libm (whose exp and log differ between
glibc versions and operating systems).

Compiled with ``error_model="numpy"``, as are the kernels that call them: Python's error model
puts a zero check, a branch, before every division, and a loop with a branch that may raise does
not vectorise.

References:
    fdlibm 5.3 (Sun Microsystems 1993): e_exp.c, s_expm1.c, e_log.c.
"""

from __future__ import annotations

import math
from typing import Any

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_SHIFT = 6755399441055744.0  # 1.5 * 2^52: x + _SHIFT - _SHIFT rounds x to an integer
_INV_LN2 = 1.44269504088896338700e00
_LN2_HI = 6.93147180369123816490e-01  # ln 2's top 32 bits: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_EXP_MIN, _EXP_MAX = -746.0, 710.0  # exp is 0 below, inf above
_EXPM1_MIN = -40.0  # expm1 is -1 below (exp(-40) < half an ulp of 1)


@intrinsic
def _bits(typingctx: Any, x: Any) -> Any:
    """The 64 bits of a float64 as an int64 (a bitcast: free, and vectorisable)."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _float(typingctx: Any, bits: Any) -> Any:
    """The float64 whose 64 bits are an int64's."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@njit(cache=True, inline="always", error_model="numpy")
def _round(x: float) -> tuple[float, int]:
    """The integer nearest x (|x| < 2^51), as a float and as an int64."""
    shifted = x + _SHIFT
    return shifted - _SHIFT, _bits(shifted) - _bits(_SHIFT)


@njit(cache=True, inline="always", error_model="numpy")
def _pow2(k: int) -> float:
    """2^k for an integer -1022 <= k <= 1023."""
    return _float((k + 1023) << 52)


@njit(cache=True, inline="always", error_model="numpy")
def exp(x: float) -> float:
    """e^x, within 1 ulp (fdlibm's e_exp.c); 0 below -745.2 and inf above 709.8, NaN for NaN.

    x = k ln2 + r with |r| <= ln2 / 2; e^r from a rational approximation; times 2^k in two
    halves, so that results near overflow and in the subnormal range come out right too.
    """
    x = min(max(x, _EXP_MIN), _EXP_MAX)
    kf, k = _round(x * _INV_LN2)
    hi = x - kf * _LN2_HI
    lo = kf * _LN2_LO
    r = hi - lo
    rr = r * r
    c = r - rr * (1.66666666666666019037e-01 + rr * (-2.77777777770155933842e-03 + rr * (
        6.61375632143793436117e-05 + rr * (-1.65339022054652515390e-06
                                          + rr * 4.13813679705723846039e-08))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    half = k >> 1
    return y * _pow2(half) * _pow2(k - half)


@njit(cache=True, inline="always", error_model="numpy")
def expm1(x: float) -> float:
    """e^x - 1, within 1 ulp (fdlibm's s_expm1.c), to full relative precision near 0.

    -1 below -40, inf above 709.8, NaN for NaN. x = k ln2 + r with |r| <= ln2 / 2 and a
    correction term c for the rounding of r; e^r - 1 from a rational approximation; the
    branches of fdlibm by k become selects (every branch is computed; no branch raises).
    """
    x = min(max(x, _EXPM1_MIN), _EXP_MAX)
    kf, k = _round(x * _INV_LN2)
    hi = x - kf * _LN2_HI
    lo = kf * _LN2_LO
    r = hi - lo
    c = (hi - r) - lo
    hfx = 0.5 * r
    hxs = r * hfx
    r1 = 1.0 + hxs * (-3.33333333333331316428e-02 + hxs * (1.58730158725481460165e-03 + hxs * (
        -7.93650757867487942473e-05 + hxs * (4.00821782732936239552e-06
                                            + hxs * -2.01099218183624371326e-07))))
    t = 3.0 - r1 * hfx
    e = hxs * ((r1 - t) / (6.0 - r * t))
    if k == 0:
        return r - (r * e - hxs)
    e = (r * (e - c) - c) - hxs
    if k == -1:
        return 0.5 * (r - e) - 0.5
    if k == 1:
        if r < -0.25:
            return -2.0 * (e - (r + 0.5))
        return 1.0 + 2.0 * (r - e)
    half = k >> 1
    if k <= -2 or k > 56:  # e^x - 1 is e^x's rounding, less 1
        return (r - e + 1.0) * _pow2(half) * _pow2(k - half) - 1.0
    if k < 20:
        return (r - e + (1.0 - _pow2(-k))) * _pow2(half) * _pow2(k - half)
    return (r - (e + _pow2(-k)) + 1.0) * _pow2(half) * _pow2(k - half)


_EXP_ABOVE_ROOM = 1.0 + 1e-12  # covers x / ln 2's rounding: |error| <= 1000 x 2^-51 in y


@njit(cache=True, inline="always", error_model="numpy")
def exp_above(x: float) -> float:
    """An upper bound of e^x, at most 6.2% above it, in a few operations; inf where |x| > 693.

    e^x = 2^y with y = x / ln 2 = n + f (n an integer, 0 <= f < 1), and 2^f <= 1 + f (2^f is
    convex and meets 1 + f at 0 and 1). For cheap tests that rule values out before
    computing them (``sim.core.lifetime.equations.event_happens``); inf (no bound) outside
    the range, and for NaN.
    """
    y = x * _INV_LN2
    if not abs(y) < 1000.0:
        return 1.0e309  # inf
    n = math.floor(y)
    return (1.0 + (y - n)) * _pow2(n) * _EXP_ABOVE_ROOM


_SUBNORMAL = 2.2250738585072014e-308  # the smallest normal float
_TWO54 = 18014398509481984.0


@njit(cache=True, inline="always", error_model="numpy")
def log(x: float) -> float:
    """ln(x), within 1 ulp (fdlibm's e_log.c); -inf at 0, inf at inf, NaN below 0 and for NaN.

    x = 2^k (1 + f) with sqrt(2)/2 <= 1 + f < sqrt(2), read from the float's bits (subnormals
    scaled by 2^54 first); ln(1 + f) from s = f / (2 + f) and a polynomial in s^2.
    """
    subnormal = x < _SUBNORMAL
    xs = x * _TWO54 if subnormal else x
    hx = (_bits(xs) >> 32) + (0x3FF00000 - 0x3FE6A09E)
    k = (hx >> 20) - 0x3FF - (54 if subnormal else 0)
    hx = (hx & 0x000FFFFF) + 0x3FE6A09E
    f = _float((hx << 32) | (_bits(xs) & 0xFFFFFFFF)) - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
                                              + w * 1.531383769920937332e-01))
    t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (
        1.818357216161805012e-01 + w * 1.479819860511658591e-01)))
    dk = float(k)
    y = s * (hfsq + (t2 + t1)) + dk * _LN2_LO - hfsq + f + dk * _LN2_HI
    if x > 0.0 and x < 1.0e309:  # finite: also false for NaN
        return y
    if x == 0.0:
        return -1.0e309  # -inf
    return x if x > 0.0 else math.nan  # inf; NaN below 0 or for NaN (no division: a vector
    #                                    lane would compute it for every x)
