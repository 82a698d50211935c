"""One root seed, named streams, common random numbers.

Each stream is a ``SeedSequence`` keyed by (root seed, stream name). Whole-run streams
(population, network, program, lifetime) are numpy generators seeded by it (``Streams.get``).
Daily streams are counter-based (``sim.core.counter_rng``): the stream's 64-bit key
(``Streams.key``) is hashed with the day and a patient's index inside the compiled kernels,
so a draw on day d of stream "messaging" does not depend on what any other stream, the same
stream on another day, or any other patient consumed. Two designs run with the same seed
therefore share every draw the design does not touch (common random numbers): differences
between designs are paired. Replications are ``SeedSequence.spawn`` children, never ``seed + i``.
"""

from __future__ import annotations

import zlib

import numpy as np

STREAMS = ("population", "network", "program", "attendance", "messaging", "dosing", "warmup",
           "lifetime", "calls", "course", "measurement")
"""Named streams. Daily ones are counter-based, keyed by day and patient (``Streams.key``):
``attendance``, ``messaging``, ``dosing``, ``warmup`` (the PDC window's days before day 0),
``calls`` (which one-to-one calls take place), ``course`` (the daily step of each patient's
clinical course) and ``measurement`` (HbA1c measurement noise, keyed by the day measured).
The others are whole-run generators (``Streams.get``); ``lifetime`` feeds the lifetime stage
(risk factors via ``get``; the event uniforms are counter-based, keyed by year, patient and
event: ``sim.core.lifetime.year``).
All are the same for every design."""


def name_key(name: str) -> int:
    """A stable integer for a stream name (CRC32; independent of Python's hash seed)."""
    return zlib.crc32(name.encode())


def stream_key(name: str) -> int:
    """The key of one of the model's own streams (:data:`STREAMS`)."""
    if name not in STREAMS:
        raise ValueError(f"unknown random stream '{name}'; streams are {', '.join(STREAMS)}")
    return name_key(name)


def seed_sequence(root: int, *keys: int | str) -> np.random.SeedSequence:
    """THE way to derive randomness from a root seed.

    The ``SeedSequence`` keyed by ``keys`` (integers such as point and replication, or stream names
    such as ``"sweep.lhs"``, keyed by :func:`name_key`). Distinct keys give independent streams.
    """
    return np.random.SeedSequence(
        root, spawn_key=tuple(name_key(k) if isinstance(k, str) else int(k) for k in keys))


class Streams:
    """Named random streams derived from one root seed."""

    def __init__(self, seed: int | np.random.SeedSequence) -> None:
        self.root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(
            seed
        )

    def _sequence(self, name: str) -> np.random.SeedSequence:
        return np.random.SeedSequence(
            self.root.entropy, spawn_key=(*self.root.spawn_key, stream_key(name))
        )

    def get(self, name: str) -> np.random.Generator:
        """The generator of a whole-run stream (population, network, program)."""
        return np.random.Generator(np.random.PCG64(self._sequence(name)))

    def key(self, name: str) -> np.uint64:
        """The 64-bit key of a daily, counter-based stream (``sim.core.counter_rng``)."""
        return self._sequence(name).generate_state(1, np.uint64)[0]


def derive_seed(root: int, *keys: int) -> int:
    """A 63-bit run seed derived from a root seed and integer keys (e.g. point, replication).

    Recorded with every run, so each run is reproducible from its scenario and this seed.
    """
    words = seed_sequence(root, *keys).generate_state(2, np.uint32)
    return int((int(words[0]) << 31) ^ int(words[1])) & (2**63 - 1)


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Run seeds of replications 0..R-1 of a scenario with root ``seed`` (SeedSequence spawns)."""
    return [derive_seed(seed, r) for r in range(replications)]
