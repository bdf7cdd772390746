"""Autoencoders (Hands-On ML, ch. 17): stacked, tied, convolutional, denoising and sparse.

An :class:`Autoencoder` is an encoder and a decoder. Convention: **the decoder ends with
its output activation** (sigmoid for data in [0, 1], tanh for [-1, 1]), so ``model(x)`` is
a reconstruction of ``x`` with ``x``'s shape and ``nn.MSELoss()`` applies directly. For
binary cross-entropy build with ``output="logits"``: the decoder then stops before the
sigmoid, ``model(x)`` returns logits for ``nn.BCEWithLogitsLoss()`` (the numerically safe
form), and :meth:`Autoencoder.reconstruct` / :meth:`Autoencoder.decode` apply the sigmoid.

Training with the library's Trainer (targets are the inputs)::

    from chainrule import models, nn, optim
    from chainrule.train import Trainer

    ae = models.dense_autoencoder((28, 28), hidden=(100,), code_size=30)
    trainer = Trainer(ae, nn.MSELoss(), optim.Adam(ae.parameters(), lr=1e-3), metrics=(),
                      regularizer=lambda m: m.regularization())   # only if sparse
    trainer.fit((x, x), epochs=10)
    codes = ae.encode(x)              # (N, 30) NumPy array
    images = ae.reconstruct(x)        # x's shape, in the data's range

Sparsity is an activity penalty on the codes: ``sparsity=("l1", 1e-3)``,
``sparsity=("kl", 0.1, 5e-3)`` (target mean activation 0.1, weight 5e-3; needs codes in
(0, 1): ``code_activation="sigmoid"``), an :class:`L1Sparsity` / :class:`KLSparsity`, or
any ``codes -> scalar Tensor``. It enters the loss through
``Trainer(..., regularizer=lambda m: m.regularization())``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import nn
from ..autograd import ops
from ..autograd.tensor import Tensor, get_default_dtype
from ..nn import init as initializers
from ..nn.module import evaluating
from .classifiers import Reshape, ShapeLike, _positive, _shape, image_shape
from .registry import register_model

__all__ = ["Autoencoder", "KLSparsity", "L1Sparsity", "conv_autoencoder", "dense_autoencoder",
           "dlfs_conv_autoencoder", "kl_sparsity", "l1_activity"]

# ----------------------------------------------------------------------------- sparsity


def _check_weight(where: str, weight: float) -> float:
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or \
            not math.isfinite(weight) or weight < 0:
        raise ValueError(f"{where}: weight must be a finite number >= 0, got {weight!r}")
    return float(weight)


def l1_activity(codes: Any, weight: float = 1e-3) -> Tensor:
    """``weight * mean over the batch of sum over units |codes|`` (Keras'
    ``ActivityRegularization(l1=weight)``, which divides by the batch size).

    codes: (N, ...) -> scalar Tensor.
    """
    weight = _check_weight("l1_activity", weight)
    codes = ops.lift(codes)
    n = codes.shape[0] if codes.ndim else 1
    return ops.sum(ops.abs(codes)) * (weight / n)


def kl_sparsity(codes: Any, target: float = 0.1, weight: float = 5e-3,
                eps: float = 1e-7) -> Tensor:
    """KL sparsity penalty (Hands-On ML): with m_j the mean activation of coding unit j over
    the batch, ``weight * sum_j [t log(t/m_j) + (1-t) log((1-t)/(1-m_j))]`` = ``weight *
    sum_j KL(Bernoulli(t) || Bernoulli(m_j))``.

    codes: (N, ...) with values in [0, 1] (sigmoid codings) -> scalar Tensor. The means
    are clipped to [eps, 1 - eps] so the penalty stays finite.

    Raises:
        ValueError: target outside (0, 1), a negative weight, or codes outside [0, 1].
    """
    weight = _check_weight("kl_sparsity", weight)
    if not 0.0 < target < 1.0:
        raise ValueError(f"kl_sparsity: target must be in (0, 1), got {target!r}")
    codes = ops.lift(codes)
    if codes.ndim == 0 or codes.shape[0] == 0:
        raise ValueError(f"kl_sparsity: codes must be (N, ...) with N >= 1, got {codes.shape}")
    lo, hi = float(np.min(codes.data)), float(np.max(codes.data))
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"kl_sparsity: codes must be activations in [0, 1] (e.g. sigmoid "
                         f"codings: code_activation='sigmoid'), got values in [{lo:.4g}, "
                         f"{hi:.4g}]")
    m = ops.clip(ops.mean(codes, axis=0), eps, 1.0 - eps)
    t = float(target)
    kl = t * math.log(t) + (1 - t) * math.log(1 - t) - t * ops.log(m) \
        - (1 - t) * ops.log(1 - m)
    return ops.sum(kl) * weight


@dataclass(frozen=True)
class L1Sparsity:
    """Activity penalty :func:`l1_activity` with this ``weight``; call it on the codes."""

    weight: float = 1e-3

    def __post_init__(self) -> None:
        _check_weight("L1Sparsity", self.weight)

    def __call__(self, codes: Any) -> Tensor:
        return l1_activity(codes, self.weight)


@dataclass(frozen=True)
class KLSparsity:
    """Activity penalty :func:`kl_sparsity` with this ``target`` and ``weight``."""

    target: float = 0.1
    weight: float = 5e-3

    def __post_init__(self) -> None:
        _check_weight("KLSparsity", self.weight)
        if not 0.0 < self.target < 1.0:
            raise ValueError(f"KLSparsity: target must be in (0, 1), got {self.target!r}")

    def __call__(self, codes: Any) -> Tensor:
        return kl_sparsity(codes, self.target, self.weight)


SparsityLike = tuple | L1Sparsity | KLSparsity | Callable[[Tensor], Tensor] | None


def _sparsity(where: str, spec: SparsityLike) -> Callable[[Tensor], Tensor] | None:
    """None, a penalty object/callable, or ("l1", weight) / ("kl", target[, weight])."""
    if spec is None or isinstance(spec, (L1Sparsity, KLSparsity)):
        return spec
    if isinstance(spec, (tuple, list)) and spec and isinstance(spec[0], str):
        kind, *args = spec
        try:
            if kind == "l1" and len(args) <= 1:
                return L1Sparsity(*args)
            if kind == "kl" and len(args) <= 2:
                return KLSparsity(*args)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: bad sparsity {tuple(spec)!r}: {e}") from None
    elif callable(spec):
        return spec
    raise ValueError(f"{where}: sparsity must be None, ('l1', weight), ('kl', target, weight), "
                     f"an L1Sparsity/KLSparsity or a function codes -> Tensor, got {spec!r}")


# ----------------------------------------------------------------------------- helpers


def model_dtype(model: nn.Module) -> np.dtype:
    params = model.parameters()
    return params[0].dtype if params else get_default_dtype()


def map_batches(fn: Callable[[Tensor], Any], x: Any, batch_size: int,
                dtype: Any) -> np.ndarray | tuple[np.ndarray, ...]:
    """Apply ``fn`` (Tensor -> Tensor or tuple of Tensors) batch by batch to the array
    ``x`` (cast to ``dtype``) and concatenate the results as NumPy arrays."""
    batch_size = _positive("batch_size", batch_size)
    x = np.asarray(x.data if isinstance(x, Tensor) else x)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"expected a non-empty batch (N, ...), got an array of shape {x.shape}")
    x = x.astype(dtype, copy=False)
    parts: list[tuple[np.ndarray, ...]] = []
    single = False
    for i in range(0, len(x), batch_size):
        out = fn(Tensor(x[i:i + batch_size]))
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        parts.append(tuple(np.array(o.data if isinstance(o, Tensor) else o) for o in outs))
    joined = tuple(np.concatenate(p, axis=0) for p in zip(*parts))
    return joined[0] if single else joined


_ACTIVATIONS: dict[str, Callable[[], nn.Module] | None] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "elu": nn.ELU,
    "selu": nn.SELU, "leaky_relu": nn.LeakyReLU, "linear": None,
}
_OUTPUTS: dict[str, Callable[[], nn.Module] | None] = {
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "linear": None, "logits": None,
}


def _choice(where: str, arg: str, value: Any, table: dict) -> Callable[[], nn.Module] | None:
    if not isinstance(value, str) or value not in table:
        raise ValueError(f"{where}: unknown {arg} {value!r}; choose from {', '.join(table)}")
    return table[value]


def _layers(layer: nn.Module, act: Callable[[], nn.Module] | None) -> list[nn.Module]:
    return [layer] if act is None else [layer, act()]


def _input_shape(where: str, input_shape: ShapeLike) -> tuple[int, ...]:
    try:
        return _shape(input_shape)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def _sizes(where: str, arg: str, values: Sequence[int]) -> list[int]:
    if isinstance(values, numbers.Integral):
        values = (values,)
    return [_positive(f"{where}: {arg}[{i}]", v) for i, v in enumerate(values)]


# ----------------------------------------------------------------------------- the model


class Autoencoder(nn.Module):
    """``forward(x) = decoder(encoder(x))``: x (N, *input_shape) -> (N, *input_shape).

    Args:
        encoder: module x -> codes (N, *code_shape).
        decoder: module codes -> reconstruction, ending with its output activation (or
            with logits when ``logits=True``).
        sparsity: activity penalty on the codes (see the module docstring); None for none.
        logits: the decoder outputs logits: :meth:`decode` and :meth:`reconstruct` apply
            the sigmoid (train with ``nn.BCEWithLogitsLoss()``).
        input_shape, code_shape: per-example shapes, recorded by the builders.

    The codes of the last forward pass are kept (``codes``) for :meth:`regularization`.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module,
                 sparsity: SparsityLike = None, *, logits: bool = False,
                 input_shape: tuple[int, ...] | None = None,
                 code_shape: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        object.__setattr__(self, "sparsity", _sparsity("Autoencoder", sparsity))
        self.logits = bool(logits)
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.code_shape = None if code_shape is None else tuple(code_shape)
        object.__setattr__(self, "_codes", None)

    @property
    def code_size(self) -> int | None:
        """Number of values in one example's code (None if unknown)."""
        return None if self.code_shape is None else math.prod(self.code_shape)

    @property
    def codes(self) -> Tensor | None:
        """The codes of the last forward pass, (N, *code_shape)."""
        return self._codes

    def forward(self, x: Any) -> Tensor:
        codes = self.encoder(x)
        object.__setattr__(self, "_codes", codes)
        return self.decoder(codes)

    def regularization(self) -> Tensor:
        """The sparsity penalty on the codes of the last forward pass (a scalar Tensor;
        0 without sparsity). Pass as ``Trainer(..., regularizer=lambda m:
        m.regularization())``; in evaluation it is part of ``val_loss``, as in Keras."""
        if self.sparsity is None:
            return Tensor(np.zeros((), model_dtype(self)))
        if self._codes is None:
            raise RuntimeError("Autoencoder.regularization: no forward pass yet; call the "
                               "model on a batch first")
        return self.sparsity(self._codes)

    def _output(self, y: Tensor) -> Tensor:
        return ops.sigmoid(y) if self.logits else y

    def encode(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """Codes of ``x`` (N, *input_shape) -> (N, *code_shape), in evaluation mode (no noise,
        no dropout), as a NumPy array. For a differentiable code call ``model.encoder``."""
        with evaluating(self):
            return map_batches(self.encoder, x, batch_size, model_dtype(self))

    def decode(self, codes: Any, batch_size: int = 256) -> np.ndarray:
        """Images from codes (N, *code_shape) -> (N, *input_shape), in the data's range."""
        with evaluating(self):
            return map_batches(lambda z: self._output(self.decoder(z)), codes, batch_size,
                               model_dtype(self))

    def reconstruct(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """decode(encode(x)) in evaluation mode: (N, *input_shape), in the data's range."""
        with evaluating(self):
            return map_batches(lambda b: self._output(self.decoder(self.encoder(b))), x,
                               batch_size, model_dtype(self))

    def extra_repr(self) -> str:
        parts = []
        if self.input_shape is not None:
            parts.append(f"input_shape={self.input_shape}")
        if self.code_shape is not None:
            parts.append(f"code_shape={self.code_shape}")
        if self.sparsity is not None:
            parts.append(f"sparsity={self.sparsity!r}")
        if self.logits:
            parts.append("logits=True")
        return ", ".join(parts)


# ----------------------------------------------------------------------------- builders


@register_model("autoencoder", kind="autoencoder")
def dense_autoencoder(input_shape: ShapeLike = (28, 28), hidden: Sequence[int] = (100,),
                      code_size: int = 30, activation: str = "selu", output: str = "sigmoid",
                      tied: bool = False, noise: float = 0.0, dropout: float = 0.0,
                      sparsity: SparsityLike = None,
                      code_activation: str | None = None) -> Autoencoder:
    """Stacked dense autoencoder: Flatten -> [GaussianNoise(noise)] -> [Dropout(dropout)] ->
    Dense+activation per ``hidden`` size -> Dense(code_size)+code_activation = the codes;
    the decoder mirrors the sizes back to prod(input_shape), ends with ``output`` and
    reshapes to ``input_shape``.

    Args:
        input_shape: per-example shape, e.g. (28, 28), (1, 28, 28) or 784.
        hidden: encoder widths between the input and the code (decoder in reverse).
        activation: "selu", "relu", "elu", "gelu", "tanh", "sigmoid", "leaky_relu", "linear".
        output: "sigmoid" (data in [0, 1]), "tanh" ([-1, 1]), "linear", or "logits" (no
            output activation; train with BCEWithLogitsLoss, ``reconstruct`` applies it).
        tied: decoder layers are :class:`~chainrule.nn.TiedLinear` transposes of the
            encoder's Dense layers, sharing their weights (half the weights).
        noise, dropout: denoising autoencoder: Gaussian noise of this stddev and/or dropout
            with this rate on the input, in training only.
        sparsity: activity penalty on the codes, e.g. ("l1", 1e-3) or ("kl", 0.1, 5e-3).
        code_activation: the code layer's activation; None means ``activation``. KL
            sparsity needs "sigmoid".

    Raises:
        ValueError: naming the argument and value, for non-positive sizes, unknown
            activations, noise < 0, dropout outside [0, 1), or KL sparsity without
            sigmoid codes.
    """
    where = "dense_autoencoder"
    shape = _input_shape(where, input_shape)
    code_size = _positive(f"{where}: code_size", code_size)
    widths = _sizes(where, "hidden", hidden)
    act = _choice(where, "activation", activation, _ACTIVATIONS)
    code_name = activation if code_activation is None else code_activation
    code_act = _choice(where, "code_activation", code_name, _ACTIVATIONS)
    out_act = _choice(where, "output", output, _OUTPUTS)
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or \
            not math.isfinite(noise) or noise < 0:
        raise ValueError(f"{where}: noise (the Gaussian noise stddev) must be >= 0, got "
                         f"{noise!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"{where}: dropout must be in [0, 1), got {dropout!r}")
    penalty = _sparsity(where, sparsity)
    if isinstance(penalty, KLSparsity) and code_name != "sigmoid":
        raise ValueError(f"{where}: KL sparsity needs codes in (0, 1): pass "
                         f"code_activation='sigmoid' (got {code_name!r})")

    encoder: list[nn.Module] = [nn.Flatten()]
    if noise > 0:
        encoder.append(nn.GaussianNoise(noise))
    if dropout > 0:
        encoder.append(nn.Dropout(dropout))
    sizes = [math.prod(shape), *widths, code_size]
    dense: list[nn.Linear] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        dense.append(nn.Dense(a, b))
        encoder += _layers(dense[-1], code_act if i == len(sizes) - 2 else act)
    decoder: list[nn.Module] = []
    for i in reversed(range(len(dense))):
        lin = dense[i]
        layer = nn.TiedLinear(lin) if tied else nn.Dense(lin.out_features, lin.in_features)
        decoder += _layers(layer, out_act if i == 0 else act)
    if len(shape) > 1:
        decoder.append(Reshape(*shape))
    return Autoencoder(nn.Sequential(*encoder), nn.Sequential(*decoder), penalty,
                       logits=output == "logits", input_shape=shape, code_shape=(code_size,))


def _halvings(where: str, h: int, w: int, stages: int) -> list[tuple[int, int]]:
    """Sizes after each stride-2 stage (ceil halving); refuses sides that reach 1 early."""
    sizes = [(h, w)]
    for i in range(stages):
        ph, pw = sizes[-1]
        if min(ph, pw) < 2:
            chain = " → ".join(f"{a}×{b}" for a, b in sizes)
            raise ValueError(f"{where}: {h}×{w} images cannot be halved {stages} times "
                             f"({chain}, and a side of 1 cannot be halved); use at most {i} "
                             f"stages (entries of channels) or larger images")
        sizes.append(((ph + 1) // 2, (pw + 1) // 2))
    return sizes


@register_model("conv-autoencoder", kind="autoencoder")
def conv_autoencoder(input_shape: ShapeLike = (1, 28, 28), channels: Sequence[int] = (16, 32),
                     code_size: int | None = None, activation: str = "selu",
                     output: str = "sigmoid", code_activation: str | None = None
                     ) -> Autoencoder:
    """Convolutional autoencoder. Encoder: per entry of ``channels`` Conv2d(3×3, stride 2,
    padding 1) + activation (each halves H and W, rounding up: 28 → 14 → 7 → 4); with
    ``code_size``, a Flatten + Dense(code_size) bottleneck. The decoder mirrors it with
    ``nn.ConvTranspose2d(3×3, stride 2, padding 1)`` layers whose ``output_padding`` (0 for
    odd sides, 1 for even) restores every size exactly, the last one back to the input's
    channels followed by ``output``.

    Inputs may be (C, H, W), (H, W) or a flat square H*W; the output has the input's shape.

    Raises:
        ValueError: non-positive channels or code_size, unknown activations, or images
            too small for the number of stages (a side of 1 cannot be halved).
    """
    where = "conv_autoencoder"
    shape = _input_shape(where, input_shape)
    c, h, w = image_shape(shape, where)
    chans = _sizes(where, "channels", channels)
    if not chans:
        raise ValueError(f"{where}: channels must name at least one convolution stage")
    act = _choice(where, "activation", activation, _ACTIVATIONS)
    code_act = _choice(where, "code_activation",
                       activation if code_activation is None else code_activation,
                       _ACTIVATIONS)
    out_act = _choice(where, "output", output, _OUTPUTS)
    sizes = _halvings(where, h, w, len(chans))

    encoder: list[nn.Module] = [] if shape == (c, h, w) else [Reshape(c, h, w)]
    for cin, cout in zip([c, *chans], chans):
        encoder += _layers(nn.Conv2d(cin, cout, 3, stride=2, padding=1), act)
    hk, wk = sizes[-1]
    code_shape: tuple[int, ...] = (chans[-1], hk, wk)
    decoder: list[nn.Module] = []
    if code_size is not None:
        code_size = _positive(f"{where}: code_size", code_size)
        flat = chans[-1] * hk * wk
        encoder += [nn.Flatten(), *_layers(nn.Dense(flat, code_size), code_act)]
        decoder += [*_layers(nn.Dense(code_size, flat), act), Reshape(*code_shape)]
        code_shape = (code_size,)
    outs = [c, *chans]
    for i in reversed(range(len(chans))):
        th, tw = sizes[i]
        up = nn.ConvTranspose2d(chans[i], outs[i], 3, stride=2, padding=1,
                                output_padding=(1 - th % 2, 1 - tw % 2))
        decoder += _layers(up, out_act if i == 0 else act)
    if shape != (c, h, w):
        decoder.append(Reshape(*shape))
    return Autoencoder(nn.Sequential(*encoder), nn.Sequential(*decoder),
                       logits=output == "logits", input_shape=shape, code_shape=code_shape)


def _torch_default_init(layer: nn.Module) -> nn.Module:
    """PyTorch's default for Linear/Conv2d: kaiming_uniform(a=√5) on the weight, i.e.
    U(±1/√fan_in), and U(±1/√fan_in) on the bias."""
    initializers.kaiming_uniform_(layer.weight, a=math.sqrt(5))
    fan_in, _ = initializers.fans(layer.weight.shape)
    bound = 1.0 / math.sqrt(fan_in)
    initializers.uniform_(layer.bias, -bound, bound)
    return layer


@register_model("dlfs-conv-autoencoder", kind="autoencoder")
def dlfs_conv_autoencoder(hidden_dim: int = 28) -> Autoencoder:
    """The convolutional autoencoder of *Deep Learning from Scratch* (Weidman), ch. 7.

    x (N, 1, 28, 28) in [-1, 1] -> reconstruction (N, 1, 28, 28) in [-1, 1]. Encoder:
    Conv2d(1, 14, 5, padding=2)+tanh, Conv2d(14, 7, 5, padding=2)+tanh, Flatten,
    Linear(7·28·28, hidden_dim)+tanh. Decoder: Linear(hidden_dim, 7·28·28)+tanh, reshape to
    (7, 28, 28), Conv2d(7, 14, 5, padding=2)+tanh, Conv2d(14, 1, 5, padding=2)+tanh.
    Initialised as PyTorch does by default (U(±1/√fan_in) weights and biases).
    """
    where = "dlfs_conv_autoencoder"
    hidden_dim = _positive(f"{where}: hidden_dim", hidden_dim)
    flat = 7 * 28 * 28

    def conv(cin: int, cout: int) -> nn.Module:
        return _torch_default_init(nn.Conv2d(cin, cout, 5, padding=2))

    encoder = nn.Sequential(conv(1, 14), nn.Tanh(), conv(14, 7), nn.Tanh(), nn.Flatten(),
                            _torch_default_init(nn.Linear(flat, hidden_dim)), nn.Tanh())
    decoder = nn.Sequential(_torch_default_init(nn.Linear(hidden_dim, flat)), nn.Tanh(),
                            Reshape(7, 28, 28), conv(7, 14), nn.Tanh(), conv(14, 1), nn.Tanh())
    return Autoencoder(encoder, decoder, input_shape=(1, 28, 28), code_shape=(hidden_dim,))
