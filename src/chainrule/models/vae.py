"""Variational autoencoder (Kingma & Welling 2014; Hands-On ML, ch. 17).

The encoder body feeds two Linear heads, the mean ``mu`` and the log-variance
``log_var`` of a diagonal Gaussian q(z|x); the code is sampled with the
reparameterisation trick ``z = mu + exp(log_var / 2) * eps``, eps ~ N(0, I), so gradients
flow through ``mu`` and ``log_var``. The decoder outputs **logits** of Bernoulli pixels
(the numerically safe choice): train with ``nn.BCEWithLogitsLoss()`` on data in [0, 1],
and :meth:`VAE.decode` / :meth:`VAE.reconstruct` / :meth:`VAE.generate` apply the sigmoid.

Training mode samples z (eps from ``chainrule.random.get_rng()``, so ``manual_seed`` or
``Trainer.fit(seed=...)`` repeats a run); evaluation mode uses ``z = mu``. The latent loss
enters through the regulariser::

    vae = models.dense_vae((28, 28), hidden=(150, 100), latent_size=10)
    trainer = Trainer(vae, nn.BCEWithLogitsLoss(), optim.Adam(vae.parameters(), 1e-3),
                      metrics=(), regularizer=lambda m: m.regularization())
    trainer.fit((x, x), epochs=25)
    print(vae.negative_elbo(x_test))       # nats per image
    images = vae.generate(16, seed=0)      # (16, 28, 28) in [0, 1]

``BCEWithLogitsLoss()(logits, x) + vae.regularization()`` is the negative ELBO divided by
the number of pixels per image (Hands-On ML's scaling: latent loss / 784), so the logged
``loss`` times 784 is the negative ELBO in nats per image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import nn
from ..autograd import ops
from ..autograd.tensor import Tensor
from ..nn.module import evaluating
from ..random import get_rng
from .autoencoders import (
    _ACTIVATIONS,
    _choice,
    _halvings,
    _input_shape,
    _layers,
    _sizes,
    map_batches,
    model_dtype,
)
from .classifiers import Reshape, ShapeLike, _positive, image_shape
from .registry import register_model

__all__ = ["VAE", "conv_vae", "dense_vae", "gaussian_kl", "reparameterize"]


def reparameterize(mu: Any, log_var: Any, eps: Any) -> Tensor:
    """z = mu + exp(log_var / 2) * eps: a sample of N(mu, exp(log_var)) that is
    differentiable in mu and log_var. All (N, latent)."""
    mu, log_var = ops.lift(mu), ops.lift(log_var)
    return mu + ops.exp(log_var * 0.5) * ops.lift(eps, mu)


def gaussian_kl(mu: Any, log_var: Any) -> Tensor:
    """KL(N(mu, exp(log_var)) || N(0, I)) per example, in nats:
    0.5 * sum_j (exp(lv_j) + mu_j² - 1 - lv_j). (N, latent) -> (N,)."""
    mu, log_var = ops.lift(mu), ops.lift(log_var)
    return ops.sum(ops.exp(log_var) + mu * mu - 1.0 - log_var, axis=-1) * 0.5


class VAE(nn.Module):
    """Variational autoencoder: x (N, *input_shape) -> decoder logits (N, *input_shape).

    Args:
        encoder: body x -> features (N, features).
        decoder: z (N, latent_size) -> logits (N, *input_shape).
        features: width of the encoder's output.
        latent_size: dimension of z.
        input_shape: per-example shape of the data (for the KL scaling and ``generate``).

    Attributes ``mu`` and ``log_var`` (Tensors) hold the posterior of the last forward.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, features: int,
                 latent_size: int, input_shape: ShapeLike) -> None:
        super().__init__()
        features = _positive("VAE: features", features)
        latent_size = _positive("VAE: latent_size", latent_size)
        self.input_shape = _input_shape("VAE", input_shape)
        self.latent_size = latent_size
        self.encoder = encoder
        self.mu_head = nn.Linear(features, latent_size)
        self.log_var_head = nn.Linear(features, latent_size)
        self.decoder = decoder
        object.__setattr__(self, "mu", None)
        object.__setattr__(self, "log_var", None)

    @property
    def pixels(self) -> int:
        """Values per example (784 for 28×28 images): the KL term's divisor."""
        return math.prod(self.input_shape)

    def posterior(self, x: Any) -> tuple[Tensor, Tensor]:
        """(mu, log_var) of q(z|x) as Tensors (differentiable), each (N, latent_size)."""
        h = self.encoder(x)
        return self.mu_head(h), self.log_var_head(h)

    def _run(self, x: Any, eps: np.ndarray | None) -> Tensor:
        mu, log_var = self.posterior(x)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "log_var", log_var)
        z = mu if eps is None else reparameterize(mu, log_var, eps.astype(mu.dtype))
        return self.decoder(z)

    def forward(self, x: Any) -> Tensor:
        """Logits of the reconstruction, (N, *input_shape). Training mode: z = mu +
        sigma * eps with eps ~ N(0, I) from the library RNG; evaluation mode: z = mu."""
        x = ops.lift(x)
        eps = None
        if self.training:
            eps = get_rng().standard_normal((x.shape[0], self.latent_size))
        return self._run(x, eps)

    def kl_divergence(self) -> Tensor:
        """KL(q(z|x) || N(0, I)) of each example of the last forward pass, (N,) nats."""
        if self.mu is None:
            raise RuntimeError("VAE.kl_divergence: no forward pass yet; call the model on a "
                               "batch first")
        return gaussian_kl(self.mu, self.log_var)

    def regularization(self) -> Tensor:
        """mean KL / pixels per image (a scalar Tensor), so that
        ``BCEWithLogitsLoss()(out, x) + regularization()`` = negative ELBO / pixels."""
        return ops.mean(self.kl_divergence()) * (1.0 / self.pixels)

    # ------------------------------------------------------------------ NumPy helpers
    def encode(self, x: Any, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """(mu, log_var) of q(z|x) as NumPy arrays, each (N, latent_size)."""
        with evaluating(self):
            return map_batches(self.posterior, x, batch_size, model_dtype(self))

    def sample_latent(self, x: Any, seed: int | None = None,
                      batch_size: int = 256) -> np.ndarray:
        """One z ~ q(z|x) per example, (N, latent_size) (eps from ``seed`` or the library
        RNG)."""
        mu, log_var = self.encode(x, batch_size)
        rng = get_rng() if seed is None else np.random.default_rng(seed)
        eps = rng.standard_normal(mu.shape).astype(mu.dtype)
        return mu + np.exp(0.5 * log_var) * eps

    def decode(self, z: Any, batch_size: int = 256) -> np.ndarray:
        """Images in [0, 1] (sigmoid of the logits) from codes z (N, latent_size) ->
        (N, *input_shape)."""
        with evaluating(self):
            return map_batches(lambda b: ops.sigmoid(self.decoder(b)), z, batch_size,
                               model_dtype(self))

    def reconstruct(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """sigmoid(decoder(mu(x))): the mean reconstruction, (N, *input_shape) in [0, 1]."""
        with evaluating(self):
            return map_batches(lambda b: ops.sigmoid(self._run(b, None)), x, batch_size,
                               model_dtype(self))

    def generate(self, n: int, seed: int | None = None, batch_size: int = 256) -> np.ndarray:
        """``n`` new images in [0, 1] decoded from the prior z ~ N(0, I),
        (n, *input_shape); ``seed`` makes them repeatable (else the library RNG)."""
        n = _positive("VAE.generate: n", n)
        rng = get_rng() if seed is None else np.random.default_rng(seed)
        return self.decode(rng.standard_normal((n, self.latent_size)), batch_size)

    def negative_elbo(self, x: Any, batch_size: int = 256, sample: bool = True,
                      seed: int | None = 0) -> float:
        """Negative ELBO in nats per image: the mean over images of
        [sum over pixels of BCE(logits, x) + KL(q(z|x) || N(0, I))].

        With ``sample=True`` (the default) the reconstruction term uses ONE z ~ q(z|x)
        per image: the standard single-sample Monte-Carlo estimate of the ELBO (unbiased
        for it; eps from ``np.random.default_rng(seed)``, the library RNG if seed is None).
        ``sample=False`` decodes z = mu instead (deterministic; usually a little lower).
        x must be in [0, 1]. Runs in evaluation mode without a graph.
        """
        rng = get_rng() if seed is None else np.random.default_rng(seed)

        def per_image(b: Tensor) -> Tensor:
            eps = rng.standard_normal((b.shape[0], self.latent_size)) if sample else None
            logits = self._run(b, eps)
            target = ops.reshape(b, logits.shape)
            bce = nn.functional.binary_cross_entropy_with_logits(logits, target, "none")
            return ops.sum(ops.flatten(bce, 1), axis=1) + self.kl_divergence()

        with evaluating(self):
            values = map_batches(per_image, x, batch_size, model_dtype(self))
        return float(np.mean(values, dtype=np.float64))

    def extra_repr(self) -> str:
        return f"input_shape={self.input_shape}, latent_size={self.latent_size}"


@register_model("vae", kind="vae")
def dense_vae(input_shape: ShapeLike = (28, 28), hidden: Sequence[int] = (150, 100),
              latent_size: int = 10, activation: str = "selu") -> VAE:
    """Dense VAE (Hands-On ML's): Flatten -> Dense+activation per ``hidden`` -> heads mu,
    log_var (latent_size each); decoder Dense+activation per reversed ``hidden`` ->
    Dense(prod(input_shape)) logits -> reshape to ``input_shape``.

    Raises:
        ValueError: latent_size or a hidden size <= 0, or an unknown activation (the
            message names the argument and the value).
    """
    where = "dense_vae"
    shape = _input_shape(where, input_shape)
    latent_size = _positive(f"{where}: latent_size", latent_size)
    widths = _sizes(where, "hidden", hidden)
    act = _choice(where, "activation", activation, _ACTIVATIONS)
    d = math.prod(shape)
    encoder: list[nn.Module] = [nn.Flatten()]
    for a, b in zip([d, *widths], widths):
        encoder += _layers(nn.Dense(a, b), act)
    decoder: list[nn.Module] = []
    back = [latent_size, *reversed(widths)]
    for a, b in zip(back, back[1:]):
        decoder += _layers(nn.Dense(a, b), act)
    decoder.append(nn.Dense(back[-1], d))
    if len(shape) > 1:
        decoder.append(Reshape(*shape))
    return VAE(nn.Sequential(*encoder), nn.Sequential(*decoder), ([d, *widths])[-1],
               latent_size, shape)


@register_model("conv-vae", kind="vae")
def conv_vae(input_shape: ShapeLike = (1, 28, 28), channels: Sequence[int] = (32, 64),
             latent_size: int = 16, activation: str = "relu") -> VAE:
    """Convolutional VAE: per entry of ``channels`` Conv2d(3×3, stride 2, padding 1) +
    activation (28 → 14 → 7), Flatten, heads; decoder Dense + activation, reshape, then
    ConvTranspose2d(3×3, stride 2, padding 1, output_padding restoring each size exactly)
    stages, the last to the input's channels, as logits.

    Raises:
        ValueError: latent_size or channels <= 0, unknown activation, images too small.
    """
    where = "conv_vae"
    shape = _input_shape(where, input_shape)
    c, h, w = image_shape(shape, where)
    latent_size = _positive(f"{where}: latent_size", latent_size)
    chans = _sizes(where, "channels", channels)
    if not chans:
        raise ValueError(f"{where}: channels must name at least one convolution stage")
    act = _choice(where, "activation", activation, _ACTIVATIONS)
    sizes = _halvings(where, h, w, len(chans))
    hk, wk = sizes[-1]
    flat = chans[-1] * hk * wk
    encoder: list[nn.Module] = [] if shape == (c, h, w) else [Reshape(c, h, w)]
    for cin, cout in zip([c, *chans], chans):
        encoder += _layers(nn.Conv2d(cin, cout, 3, stride=2, padding=1), act)
    encoder.append(nn.Flatten())
    decoder: list[nn.Module] = [*_layers(nn.Dense(latent_size, flat), act),
                                Reshape(chans[-1], hk, wk)]
    outs = [c, *chans]
    for i in reversed(range(len(chans))):
        th, tw = sizes[i]
        up = nn.ConvTranspose2d(chans[i], outs[i], 3, stride=2, padding=1,
                                output_padding=(1 - th % 2, 1 - tw % 2))
        decoder += [up] if i == 0 else _layers(up, act)
    if shape != (c, h, w):
        decoder.append(Reshape(*shape))
    return VAE(nn.Sequential(*encoder), nn.Sequential(*decoder), flat, latent_size, shape)

