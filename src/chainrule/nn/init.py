"""Weight initialisers, with PyTorch's fan rules.

For a weight of shape (out, in, *kernel): fan_in = in * prod(kernel),
fan_out = out * prod(kernel). Each initialiser fills ``tensor.data`` in place and returns
the tensor; ``rng`` defaults to the library generator (``chainrule.random.manual_seed``).

==================  ==========================================  =======================
name                distribution                                 scale
==================  ==========================================  =======================
glorot/xavier       U(-a, a) or N(0, s)                         s² = 2/(fan_in+fan_out)
he/kaiming          U(-a, a) or N(0, s)                         s² = 2/fan_in (ReLU)
lecun               U(-a, a) or N(0, s)                         s² = 1/fan_in (SELU)
==================  ==========================================  =======================

For uniform versions a = sqrt(3) * s.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..random import get_rng


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel); a vector counts as both."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    t.data[...] = values.astype(t.data.dtype, copy=False)
    return t


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else get_rng()


def zeros_(t: Tensor) -> Tensor:
    t.data[...] = 0
    return t


def ones_(t: Tensor) -> Tensor:
    t.data[...] = 1
    return t


def constant_(t: Tensor, value: float) -> Tensor:
    t.data[...] = value
    return t


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0,
            rng: np.random.Generator | None = None) -> Tensor:
    return _fill(t, _rng(rng).normal(mean, std, t.shape))


def uniform_(t: Tensor, low: float = 0.0, high: float = 1.0,
             rng: np.random.Generator | None = None) -> Tensor:
    return _fill(t, _rng(rng).uniform(low, high, t.shape))


def _scaled(t: Tensor, var: float, dist: str, rng: np.random.Generator | None) -> Tensor:
    std = math.sqrt(var)
    if dist == "normal":
        return normal_(t, 0.0, std, rng)
    if dist == "uniform":
        a = math.sqrt(3.0) * std
        return uniform_(t, -a, a, rng)
    raise ValueError(f"distribution must be 'normal' or 'uniform', got {dist!r}")


def xavier_uniform_(t: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    fi, fo = fans(t.shape)
    return _scaled(t, gain ** 2 * 2.0 / (fi + fo), "uniform", rng)


def xavier_normal_(t: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    fi, fo = fans(t.shape)
    return _scaled(t, gain ** 2 * 2.0 / (fi + fo), "normal", rng)


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in", rng: Any = None) -> Tensor:
    """He initialisation for (leaky) ReLU with negative slope ``a``."""
    return _scaled(t, 2.0 / (1 + a * a) / _fan(t, mode), "uniform", rng)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in", rng: Any = None) -> Tensor:
    return _scaled(t, 2.0 / (1 + a * a) / _fan(t, mode), "normal", rng)


def lecun_uniform_(t: Tensor, rng: Any = None) -> Tensor:
    return _scaled(t, 1.0 / fans(t.shape)[0], "uniform", rng)


def lecun_normal_(t: Tensor, rng: Any = None) -> Tensor:
    return _scaled(t, 1.0 / fans(t.shape)[0], "normal", rng)


def orthogonal_(t: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one."""
    if t.ndim < 2:
        raise ValueError(f"orthogonal_ needs at least 2 dimensions, got shape {t.shape}")
    rows, cols = t.shape[0], int(np.prod(t.shape[1:]))
    a = _rng(rng).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # make the decomposition unique (uniform over O(n))
    q = q if rows >= cols else q.T
    return _fill(t, gain * q[:rows, :cols].reshape(t.shape))


def _fan(t: Tensor, mode: str) -> int:
    fi, fo = fans(t.shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fi if mode == "fan_in" else fo


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_

INITIALIZERS = {
    "zeros": zeros_, "ones": ones_, "normal": normal_, "uniform": uniform_,
    "glorot_uniform": xavier_uniform_, "glorot_normal": xavier_normal_,
    "xavier_uniform": xavier_uniform_, "xavier_normal": xavier_normal_,
    "he_uniform": kaiming_uniform_, "he_normal": kaiming_normal_,
    "kaiming_uniform": kaiming_uniform_, "kaiming_normal": kaiming_normal_,
    "lecun_uniform": lecun_uniform_, "lecun_normal": lecun_normal_,
    "orthogonal": orthogonal_,
}


def get(name: str) -> Any:
    """An initialiser by name (e.g. "glorot_uniform")."""
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(f"unknown initializer {name!r}; choose from "
                         f"{', '.join(sorted(INITIALIZERS))}") from None
