"""The one seeding function: stable, keyed, independent streams."""

from __future__ import annotations

import numpy as np
import pytest

from sim.core import counter_rng as cr
from sim.core.counter_rng import normal_quantile, normals, uniforms, uniforms_at
from sim.core.rng import (
    Streams,
    derive_seed,
    name_key,
    replication_seeds,
    seed_sequence,
    stream_key,
)


def test_seed_sequence_is_stable_and_keyed_by_names_and_integers() -> None:
    a = seed_sequence(7, "sweep.lhs").generate_state(4)
    assert np.array_equal(a, seed_sequence(7, "sweep.lhs").generate_state(4))
    assert np.array_equal(a, np.random.SeedSequence(7, spawn_key=(name_key("sweep.lhs"),))
                          .generate_state(4)), "a name is keyed by its CRC32"
    assert not np.array_equal(a, seed_sequence(8, "sweep.lhs").generate_state(4))
    assert not np.array_equal(a, seed_sequence(7, "sweep.lhS").generate_state(4))


def test_derive_seed_and_replications_use_the_same_keys() -> None:
    seeds = replication_seeds(11, 5)
    assert seeds == [derive_seed(11, r) for r in range(5)] and len(set(seeds)) == 5
    assert all(0 <= s < 2**63 for s in seeds)
    assert derive_seed(11, 0, 1) != derive_seed(11, 1, 0), "keys are ordered"


def test_streams_are_independent() -> None:
    """Draws of distinct streams (and of one stream on distinct days) are uncorrelated,
    and drawing from one stream does not move another."""
    streams = Streams(2024)
    x = streams.get("messaging").standard_normal(20_000)
    y = streams.get("dosing").standard_normal(20_000)
    z = normals(streams.key("messaging"), 3, 20_000)
    for u, v in ((x, y), (x, z), (y, z)):
        assert abs(np.corrcoef(u, v)[0, 1]) < 0.03  # |r| < 4.2 standard errors
    again = Streams(2024)
    again.get("messaging").standard_normal(5)  # consuming one stream ...
    assert np.array_equal(again.get("dosing").standard_normal(20_000), y)  # ... not another
    a = seed_sequence(1, "psa", 0).generate_state(2000, np.uint64) >> 11
    b = seed_sequence(1, "psa", 1).generate_state(2000, np.uint64) >> 11
    assert abs(np.corrcoef(a.astype(float), b.astype(float))[0, 1]) < 0.1


def test_model_streams_are_declared() -> None:
    assert stream_key("network") == name_key("network")
    with pytest.raises(ValueError, match="unknown random stream 'netwrok'"):
        stream_key("netwrok")


def _splitmix_uniform(key: int, day: int, index: int) -> float:
    """Pure-Python reference of ``counter_rng.uniform`` (the documented hash, by hand)."""
    mask, gamma = 2**64 - 1, 0x9E3779B97F4A7C15

    def mix(z: int) -> int:
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    day_key = mix((key + (day + 1) * gamma) & mask)
    return ((mix((day_key + (index + 1) * gamma) & mask) >> 11) + 0.5) * 2.0**-53


def test_counter_draws_are_the_documented_hash_of_key_day_and_index() -> None:
    key = Streams(2024).key("dosing")
    u = uniforms(key, 7, 1000)
    for i in (0, 1, 999):
        assert u[i] == _splitmix_uniform(int(key), 7, i)
    assert uniforms(key, -1, 3)[2] == _splitmix_uniform(int(key), -1, 2), "day -1 is allowed"
    assert Streams(2024).key("dosing") == key and Streams(2025).key("dosing") != key


def _unshift(y: int, shift: int) -> int:
    """x from y = x ^ (x >> shift), 64-bit."""
    x = y
    for _ in range(64 // shift + 1):
        x = y ^ (x >> shift)
    return x


def test_the_top_counter_word_draws_the_largest_float_below_one() -> None:
    """The word whose top 53 bits are all ones is centred at 1 - 2^-54, which rounds to 1:
    drawn as 1 - 2^-53 instead, so every uniform lies in (0, 1) and its normal is finite."""
    mask, gamma = 2**64 - 1, 0x9E3779B97F4A7C15
    z = _unshift(mask, 31)  # invert mix (a bijection) at the all-ones word
    z = _unshift((z * pow(0x94D049BB133111EB, -1, 2**64)) & mask, 27)
    z = _unshift((z * pow(0xBF58476D1CE4E5B9, -1, 2**64)) & mask, 30)
    day_key = np.uint64((z - gamma) & mask)  # draw 0 hashes day_key + G
    top = cr.uniform(day_key, 0)
    assert top == np.nextafter(1.0, 0.0)
    assert np.isfinite(cr.normal(day_key, 0))
    assert cr.uniform(day_key, 1) < top


def test_a_counter_draw_depends_only_on_seed_stream_day_and_index() -> None:
    """CRN: patient i's draw is the same whatever the population size or the draws asked
    for around it; another day or stream gives another number."""
    key = Streams(3).key("attendance")
    assert np.array_equal(uniforms(key, 4, 50), uniforms(key, 4, 5_000)[:50])
    index = np.array([7, 3, 7, 0])
    assert np.array_equal(uniforms_at(key, 4, index), uniforms(key, 4, 8)[index])
    assert np.array_equal(normals(key, 4, 10), [normal_quantile(u) for u in uniforms(key, 4, 10)])
    assert not np.array_equal(uniforms(key, 5, 50), uniforms(key, 4, 50))
    assert not np.array_equal(uniforms(Streams(3).key("calls"), 4, 50), uniforms(key, 4, 50))


def test_counter_uniforms_and_normals_have_their_distributions() -> None:
    streams = Streams(11)
    n = 200_000
    u = uniforms(streams.key("messaging"), 0, n)
    assert 0.0 < u.min() and u.max() < 1.0  # open interval: log(u) is finite
    # mean and variance within 5 standard errors (SE 0.29/sqrt(n) and 0.30/sqrt(n)/..)
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / n)
    counts = np.bincount((u * 100).astype(int), minlength=100)
    chi2 = float(((counts - n / 100) ** 2 / (n / 100)).sum())
    assert chi2 < 160, f"chi-square {chi2:.0f} on 99 df (p < 1e-4 beyond 160)"
    for other in (u[1:], uniforms(streams.key("messaging"), 1, n)[:-1],
                  uniforms(streams.key("dosing"), 0, n)[:-1]):  # next patient, day, stream
        assert abs(np.corrcoef(u[:-1], other)[0, 1]) < 5 / np.sqrt(n)
    z = normals(streams.key("course"), 0, n)
    assert abs(z.mean()) < 5 / np.sqrt(n) and abs(z.std() - 1.0) < 5 / np.sqrt(2 * n)
    assert abs(float((z > 1.959964).mean()) - 0.025) < 5 * np.sqrt(0.025 * 0.975 / n)


def test_normal_quantile_matches_scipy() -> None:
    from scipy.stats import norm

    u = np.concatenate([np.geomspace(2.0**-54, 0.5, 2_000), np.linspace(0.01, 0.99, 2_001),
                        1.0 - np.geomspace(2.0**-53, 0.5, 2_000)])
    got = np.array([normal_quantile(x) for x in u])
    # AS 241 is accurate to about 1e-16 relative; 1e-13 absolute leaves room for rounding
    assert np.max(np.abs(got - norm.ppf(u))) < 1e-13
