"""Counter-based random numbers, computed inside the compiled kernels.

The daily step's streams use them, and so do the lifetime stage's event draws
(``sim.core.lifetime.year``: the year in the place of the day, index 9 x patient + event).
A draw is a pure function of four things: the stream's 64-bit key (``Streams.key``: the run
seed and the stream's name, through ``SeedSequence``), the day, and the draw's index (a
patient's index, or a group's or a call unit's). Nothing is consumed, so there is no generator
state to build each day or to pass around: a kernel computes patient i's uniform of stream
"dosing" on day d where it needs it, in any order and on any thread, and gets the same number.

Why the draws are reproducible: the same (seed, stream, day, index) always hashes to the same
64-bit word, whatever the number of threads or the order patients are visited in.

Why common random numbers hold: patient i's draw of a stream on day d depends only on the run
seed, the stream's name, d and i, never on which channels acted, which other streams drew, or
how many draws other patients or other days used. Two designs run with one seed therefore share
every draw they have in common (designs that skip a stream on a day simply do not look at it).

The hash is SplitMix64's: the day key is ``mix(key + (d + 1) G)`` and the draw's word is
``mix(day_key + (i + 1) G)``, with G the golden-ratio increment and ``mix`` Stafford's
variant 13 finalizer; within a day a stream is exactly the SplitMix64 sequence seeded at the
day key, which passes BigCrush (Steele 2014). Uniforms take the word's top 53 bits, centred in
their interval, and lie in (0, 1): the top interval's centre rounds to 1, so it is drawn as the
largest float below 1 (a normal's quantile at 1 is infinite). Normals invert the normal CDF with
Wichura's AS 241 (relative error about 1e-16), one word per normal (Wichura 1988).

References:
    Steele 2014 (SplitMix64); Salmon 2011 (counter-based generators); Wichura 1988 (AS 241).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from sim.core import vmath
from sim.core.numba_cache import drop_stale_cache

drop_stale_cache(__file__, vmath.__file__)  # normal_quantile inlines vmath.log

_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, odd: SplitMix64's increment
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_ONE = np.uint64(1)
_HALF_ULP = 0.5
_TWO_M53 = 2.0**-53
_BELOW_ONE = 1.0 - 2.0**-53  # the largest float below 1


@njit(cache=True, inline="always", error_model="numpy")
def mix(z: np.uint64) -> np.uint64:
    """Stafford's variant 13 64-bit finalizer (SplitMix64's output function): a bijection."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always", error_model="numpy")
def day_key(key: np.uint64, day: int) -> np.uint64:
    """The key of a stream on one day (``day`` >= -1; day -1 is before the first day)."""
    return mix(key + np.uint64(day + 1) * _GAMMA)


@njit(cache=True, inline="always", error_model="numpy")
def uniform(key_of_day: np.uint64, index: int) -> float:
    """Uniform in (0, 1) of draw ``index`` (>= 0) under a day key (``day_key``)."""
    w = mix(key_of_day + (np.uint64(index) + _ONE) * _GAMMA)
    return min((np.float64(w >> _S11) + _HALF_ULP) * _TWO_M53, _BELOW_ONE)


# Wichura's AS 241 (PPND16) coefficients, lowest power first: |u - 1/2| <= 0.425 (central),
# else r = sqrt(-log(min(u, 1 - u))) <= 5 (near tail) or > 5 (far tail).
_CENTRAL_NUM = (3.387132872796366608, 133.14166789178437745, 1971.5909503065514427,
                13731.693765509461125, 45921.953931549871457, 67265.770927008700853,
                33430.575583588128105, 2509.0809287301226727)
_CENTRAL_DEN = (1.0, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077,
                21213.794301586595867, 39307.89580009271061, 28729.085735721942674,
                5226.495278852545925)
_NEAR_NUM = (1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055,
             3.64784832476320460504, 1.27045825245236838258, 0.24178072517745061177,
             0.0227238449892691845833, 7.7454501427834140764e-4)
_NEAR_DEN = (1.0, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455,
             0.14810397642748007459, 0.0151986665636164571966, 5.475938084995344946e-4,
             1.05075007164441684324e-9)
_FAR_NUM = (6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358,
            0.29656057182850489123, 0.026532189526576123093, 0.0012426609473880784386,
            2.71155556874348757815e-5, 2.01033439929228813265e-7)
_FAR_DEN = (1.0, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525,
            7.868691311456132591e-4, 1.8463183175100546818e-5, 1.4215117583164458887e-7,
            2.04426310338993978564e-15)


@njit(cache=True, inline="always", error_model="numpy")
def _ratio(r: float, central: bool, far: bool, num: tuple, den: tuple, c_num: tuple,
           c_den: tuple, f_num: tuple, f_den: tuple) -> tuple[float, float]:
    """AS 241's two degree-7 polynomials in r (Horner), with the coefficients of u's branch."""
    p = c_num[7] if central else (f_num[7] if far else num[7])
    q = c_den[7] if central else (f_den[7] if far else den[7])
    for k in range(6, -1, -1):
        p = p * r + (c_num[k] if central else (f_num[k] if far else num[k]))
        q = q * r + (c_den[k] if central else (f_den[k] if far else den[k]))
    return p, q


@njit(cache=True, inline="always", error_model="numpy")
def normal_quantile(u: float) -> float:
    """The standard normal quantile of u in (0, 1): Wichura's AS 241 (PPND16).

    One pair of polynomials per u, its branch's coefficients chosen by selects: a vector
    lane computes the logarithm of every u but only one rational function, not all three
    (the same operations for the branch as the textbook form, so the same numbers).

    References:
        Wichura 1988.
    """
    q = u - 0.5
    central = abs(q) <= 0.425
    tail = math.sqrt(-vmath.log(min(u, 1.0 - u)))
    far = tail > 5.0
    r = 0.180625 - q * q if central else (tail - 5.0 if far else tail - 1.6)
    p, d = _ratio(r, central, far, _NEAR_NUM, _NEAR_DEN, _CENTRAL_NUM, _CENTRAL_DEN, _FAR_NUM,
                  _FAR_DEN)
    z = (q * p if central else p) / d  # one division in a vector lane, not both branches'
    return -z if q < 0.0 and not central else z


@njit(cache=True, inline="always", error_model="numpy")
def normal(key_of_day: np.uint64, index: int) -> float:
    """Standard normal of draw ``index`` under a day key: the quantile of its uniform."""
    return normal_quantile(uniform(key_of_day, index))


@njit(cache=True, error_model="numpy")
def uniforms(key: np.uint64, day: int, n: int) -> np.ndarray:
    """Uniforms of draws 0..n-1 of a stream on a day, as an array (days with few draws)."""
    k = day_key(key, day)
    out = np.empty(n)
    for i in range(n):
        out[i] = uniform(k, i)
    return out


@njit(cache=True, error_model="numpy")
def uniforms_at(key: np.uint64, day: int, index: np.ndarray) -> np.ndarray:
    """Uniforms of draws ``index[0]``, ``index[1]``, ... of a stream on a day (shared draws)."""
    k = day_key(key, day)
    out = np.empty(index.shape[0])
    for i in range(index.shape[0]):
        out[i] = uniform(k, index[i])
    return out


@njit(cache=True, error_model="numpy")
def normals(key: np.uint64, day: int, n: int) -> np.ndarray:
    """Standard normals of draws 0..n-1 of a stream on a day, as an array."""
    k = day_key(key, day)
    out = np.empty(n)
    for i in range(n):
        out[i] = normal(k, i)
    return out
