"""Independent, reproducible random streams for one run, from its ``seed``.

Initialisation, shuffling and data noise each draw from their own ``PCG64`` generator
(``SeedSequence(seed).spawn``), so changing e.g. the data size does not change the initial
weights, and each stream's state can be saved in a checkpoint and restored bit for bit.
"""

from __future__ import annotations

import numpy as np

STREAMS = ("init", "shuffle", "data")


def streams(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(int(seed)).spawn(len(STREAMS))
    return {name: np.random.Generator(np.random.PCG64(s)) for name, s in zip(STREAMS, children, strict=True)}


def get_state(gen: np.random.Generator) -> dict:
    return gen.bit_generator.state


def set_state(gen: np.random.Generator, state: dict) -> None:
    gen.bit_generator.state = state
