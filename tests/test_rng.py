"""The one seeding function: stable, keyed, independent streams."""

from __future__ import annotations

import numpy as np
import pytest

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
    z = streams.day("messaging", 3).standard_normal(20_000)
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
