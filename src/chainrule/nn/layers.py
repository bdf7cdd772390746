"""Layers: Linear (and its tied transpose), Sequential, Flatten, dropout and Gaussian noise,
normalisation and activation layers."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.ops import ShapeError
from ..autograd.tensor import Tensor, get_default_dtype
from ..random import get_rng
from . import functional as F
from . import init as initializers
from .module import Module, Parameter


class Sequential(Module):
    """Layers applied in order: ``Sequential(Linear(784, 300), ReLU(), ...)``."""

    def __init__(self, *layers: Module | OrderedDict) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (dict, OrderedDict)):
            items = list(layers[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(layers)]
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential takes Modules, got {type(m).__name__} at {name}")
            setattr(self, name, m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, m: Module) -> Sequential:
        setattr(self, str(len(self._modules)), m)
        return self

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterable[Module]:
        return iter(self._modules.values())


class Linear(Module):
    """y = x W^T + b. x: (..., in_features) -> (..., out_features).

    ``weight`` has shape (out_features, in_features) as in PyTorch. The default
    initialisation is Glorot-uniform for the weight and zeros for the bias (Keras'
    default); pass ``init="he_normal"`` etc. to change it.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str = "glorot_uniform", dtype: Any = None) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"Linear: {name} must be a positive integer, got {v!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        dt = dtype or get_default_dtype()
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dt))
        initializers.get(init)(self.weight)
        self.bias = Parameter(np.zeros(out_features, dtype=dt)) if bias else None

    def forward(self, x: Any) -> Tensor:
        x = ops.lift(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ShapeError(f"Linear({self.in_features}, {self.out_features}): expected "
                             f"input (..., {self.in_features}), got {x.shape}")
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


Dense = Linear


class TiedLinear(Module):
    """The transpose of a ``Linear`` layer, sharing its weight: y = x W + b.

    x: (..., linear.out_features) -> (..., linear.in_features). ``weight`` is the very
    same Parameter object as ``linear.weight`` (shape (out, in) of the tied layer), so a
    tied autoencoder's decoder adds only its own bias and the gradients of both uses add
    up in one ``.grad``. ``model.parameters()`` lists the shared weight once, under the
    name of whichever layer is met first (the encoder's in an autoencoder), and so does
    ``state_dict()``; ``load_state_dict`` writes in place, so the tie survives loading.
    Re-assigning ``linear.weight`` to a new Parameter breaks the tie.
    """

    def __init__(self, linear: Linear, bias: bool = True) -> None:
        super().__init__()
        if not isinstance(linear, Linear):
            raise TypeError(f"TiedLinear: expected the Linear layer to tie to, got "
                            f"{type(linear).__name__}")
        self.in_features, self.out_features = linear.out_features, linear.in_features
        self.weight = linear.weight
        dt = linear.weight.dtype
        self.bias = Parameter(np.zeros(self.out_features, dtype=dt)) if bias else None

    def forward(self, x: Any) -> Tensor:
        x = ops.lift(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ShapeError(f"{self.label()}: expected input (..., {self.in_features}), got "
                             f"{x.shape}")
        y = ops.matmul(x, self.weight)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (f"{self.in_features}, {self.out_features}, bias={self.bias is not None}, "
                f"tied weight {tuple(self.weight.shape)}")


class Flatten(Module):
    """Flatten axes start_axis..end_axis (by default all but the batch axis)."""

    def __init__(self, start_axis: int = 1, end_axis: int = -1) -> None:
        super().__init__()
        self.start_axis, self.end_axis = start_axis, end_axis

    def forward(self, x: Any) -> Tensor:
        return ops.flatten(ops.lift(x), self.start_axis, self.end_axis)


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x


class Dropout(Module):
    """Inverted dropout, active in training mode only.

    Set ``mc=True`` (or use ``nn.mc_dropout(model)``) to keep it active in evaluation
    too: Monte-Carlo dropout, averaging several stochastic predictions.
    """

    def __init__(self, p: float = 0.5, mc: bool = False) -> None:
        super().__init__()
        F._check_p(p, "Dropout")
        self.p, self.mc = p, mc

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training or self.mc)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class GaussianNoise(Module):
    """Adds N(0, stddev²) noise in training mode only (Keras' ``GaussianNoise``); the
    identity in evaluation. Any shape; noise comes from ``chainrule.random.get_rng()``.
    A regulariser, and the corruption of a denoising autoencoder."""

    def __init__(self, stddev: float) -> None:
        super().__init__()
        if not np.isfinite(stddev) or stddev < 0:
            raise ValueError(f"GaussianNoise: stddev must be a finite number >= 0, got "
                             f"{stddev!r}")
        self.stddev = float(stddev)

    def forward(self, x: Any) -> Tensor:
        x = ops.lift(x)
        if not self.training or self.stddev == 0.0:
            return x
        dt = x.dtype if x.dtype.kind == "f" else get_default_dtype()
        noise = get_rng().normal(0.0, self.stddev, x.shape).astype(dt)
        return x + Tensor(noise)

    def extra_repr(self) -> str:
        return f"stddev={self.stddev}"


class AlphaDropout(Dropout):
    """Dropout that keeps SELU's self-normalisation (mean 0, variance 1)."""

    def forward(self, x: Any) -> Tensor:
        return F.alpha_dropout(x, self.p, self.training or self.mc)


class mc_dropout:  # noqa: N801  (used as a context manager, like no_grad)
    """``with mc_dropout(model):`` keeps every dropout layer active at prediction time."""

    def __init__(self, model: Module) -> None:
        self.layers = [m for m in model.modules() if isinstance(m, Dropout)]

    def __enter__(self) -> mc_dropout:
        self.saved = [m.mc for m in self.layers]
        for m in self.layers:
            m.mc = True
        return self

    def __exit__(self, *exc: object) -> None:
        for m, s in zip(self.layers, self.saved):
            m.mc = s


class BatchNorm1d(Module):
    """Batch normalisation over (N, C) or (N, C, L) inputs, with running statistics."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__()
        if num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be positive")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        dt = get_default_dtype()
        self.weight = Parameter(np.ones(num_features, dt)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dt)) if affine else None
        self.track_running_stats = track_running_stats
        self.register_buffer("running_mean", np.zeros(num_features, dt))
        self.register_buffer("running_var", np.ones(num_features, dt))

    _ranks: tuple[int, ...] = (2, 3)

    def forward(self, x: Any) -> Tensor:
        x = ops.lift(x)
        if x.ndim not in self._ranks or x.shape[1] != self.num_features:
            want = " or ".join(f"{r}-D" for r in self._ranks)
            raise ShapeError(f"{type(self).__name__}({self.num_features}): expected {want} "
                             f"input with {self.num_features} channels on axis 1, got shape "
                             f"{x.shape}")
        track = self.track_running_stats
        return F.batch_norm(x, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            training=self.training or not track, momentum=self.momentum,
                            eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class LayerNorm(Module):
    """Normalise each example over its trailing ``normalized_shape`` axes."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
            tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        dt = get_default_dtype()
        self.weight = Parameter(np.ones(shape, dt)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dt)) if elementwise_affine else None

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


def _activation(name: str, fn: Any, doc: str, **defaults: Any) -> type[Module]:
    def __init__(self: Module, **kwargs: Any) -> None:
        Module.__init__(self)
        unknown = set(kwargs) - set(defaults)
        if unknown:
            raise TypeError(f"{name}() got unexpected arguments {sorted(unknown)}")
        self.kwargs = {**defaults, **kwargs}

    def forward(self: Module, x: Any) -> Tensor:
        return fn(ops.lift(x), **self.kwargs)

    def extra_repr(self: Module) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.kwargs.items())

    return type(name, (Module,), {"__init__": __init__, "forward": forward,
                                  "extra_repr": extra_repr, "__doc__": doc})


Sigmoid = _activation("Sigmoid", ops.sigmoid, "Logistic sigmoid 1/(1+e^-x), overflow-safe.")
Tanh = _activation("Tanh", ops.tanh, "Hyperbolic tangent.")
ReLU = _activation("ReLU", ops.relu, "max(x, 0); derivative 0 at 0.")
LeakyReLU = _activation("LeakyReLU", ops.leaky_relu, "x if x > 0 else slope*x.", slope=0.01)
ELU = _activation("ELU", ops.elu, "x if x > 0 else alpha*(e^x - 1).", alpha=1.0)
SELU = _activation("SELU", ops.selu, "Self-normalising ELU (Klambauer et al.).")
GELU = _activation("GELU", F.gelu, "x*Phi(x); approximate='tanh' or 'sigmoid' (x*sigmoid(1.702x)).",
                   approximate="none")
Swish = _activation("Swish", F.swish, "x*sigmoid(beta*x); beta=1 is SiLU.", beta=1.0)
SiLU = _activation("SiLU", ops.silu, "x*sigmoid(x) (Swish with beta=1).")
Softmax = _activation("Softmax", ops.softmax, "Softmax over ``axis`` (default last).",
                      axis=-1)
LogSoftmax = _activation("LogSoftmax", ops.log_softmax, "log-softmax over ``axis``.",
                         axis=-1)
Softplus = _activation("Softplus", F.softplus, "log(1 + e^(beta x)) / beta; x above threshold.",
                       beta=1.0, threshold=20.0)
CELU = _activation("CELU", F.celu, "max(0, x) + min(0, alpha (e^(x/alpha) - 1)).", alpha=1.0,
                   inplace=False)
Mish = _activation("Mish", F.mish, "x tanh(softplus(x)).", inplace=False)
Hardswish = _activation("Hardswish", F.hardswish, "x relu6(x + 3) / 6.", inplace=False)
Hardsigmoid = _activation("Hardsigmoid", F.hardsigmoid, "relu6(x + 3) / 6.", inplace=False)
Softsign = _activation("Softsign", F.softsign, "x / (1 + |x|).")
Softmin = _activation("Softmin", F.softmin, "softmax(-x) over ``dim``.", dim=None)


def _leaky_positional(cls: type[Module], key: str | None = None) -> type[Module]:
    """Allow ``LeakyReLU(0.2)``, ``ELU(0.5)``, ``CELU(0.5)``, ``Softmin(1)`` positionally,
    as in PyTorch."""
    base_init = cls.__init__
    key = key or ("slope" if cls is LeakyReLU else "alpha")

    def __init__(self: Module, value: float | None = None, **kwargs: Any) -> None:
        if value is not None:
            kwargs[key] = value
        base_init(self, **kwargs)

    cls.__init__ = __init__
    return cls


_leaky_positional(LeakyReLU)
_leaky_positional(ELU)
_leaky_positional(CELU)
_leaky_positional(Softmin, "dim")
