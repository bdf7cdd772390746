"""The library's random-number generator: one seedable NumPy Generator.

Weight initialisation, dropout masks and data shuffling draw from ``get_rng()`` unless
given their own generator, so ``manual_seed(s)`` makes a whole run repeatable.
"""

from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator (as ``torch.manual_seed``) and return it."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def get_rng() -> np.random.Generator:
    return _rng
