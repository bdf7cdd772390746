"""Deep belief nets: greedily stacked RBMs with a label-joined top RBM.

``DBN([784, 256, 256], n_labels=10, top_hidden=512)`` is trained in two stages
(Hinton, Osindero & Teh 2006, the set-up of Hands-On ML's appendix):

1. greedy layer-wise pretraining, unsupervised: RBM_1 learns 784 → 256 on the images, RBM_2
   learns 256 → 256 on RBM_1's hidden probabilities, ...;
2. the top RBM joins ``n_labels`` one-hot label units to the last feature layer h_L and learns
   the joint (h_L, y) → top_hidden on the (few) labelled examples.

Classification goes up to h_L and back down to the label units. Going "down" exactly means
the conditional of the top RBM over the one-hot label vectors,

    P(y = k | h_L) = exp(-F(h_L, e_k)) / Σ_j exp(-F(h_L, e_j)),

F the top RBM's free energy. Generation clamps a label unit, runs Gibbs sampling in the top
RBM (started at the class-conditional mean of h_L), then propagates down through the lower
RBMs with P(v | h). :meth:`DBN.to_mlp` turns the
feature layers into a ``chainrule.nn`` MLP (Linear + Sigmoid, weights copied) with a new
softmax output layer, for backprop fine-tuning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .rbm import RBM


class DBN:
    """A deep belief net.

    Args:
        layer_sizes: [n_visible, h_1, ..., h_L] of the stacked feature RBMs (length ≥ 2).
        n_labels: label units joined to h_L in the top RBM (0: no top RBM).
        top_hidden: hidden units of the top RBM.
        rbm_kwargs: passed to every :class:`RBM` (learning_rate, momentum, batch_size, ...).
        seed: seed for all layers.
    """

    def __init__(self, layer_sizes: Sequence[int], n_labels: int = 10, top_hidden: int = 512,
                 seed: int | None = None, **rbm_kwargs: Any) -> None:
        sizes = list(layer_sizes)
        if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer))
                                 or s <= 0 for s in sizes):
            raise ValueError(f"DBN: layer_sizes must be >= 2 positive integers, got {sizes!r}")
        if n_labels < 0:
            raise ValueError(f"DBN: n_labels must be >= 0, got {n_labels!r}")
        self.layer_sizes, self.n_labels = sizes, int(n_labels)
        ss = np.random.SeedSequence(seed)
        seeds = [int(s.generate_state(1)[0]) for s in ss.spawn(len(sizes))]
        self.rbms = [RBM(sizes[i], sizes[i + 1], seed=seeds[i], **rbm_kwargs)
                     for i in range(len(sizes) - 1)]
        self.top = RBM(sizes[-1] + n_labels, top_hidden, seed=seeds[-1], **rbm_kwargs) \
            if n_labels else None

    # ------------------------------------------------------------------ passes
    def up(self, x: np.ndarray) -> np.ndarray:
        """Propagate probabilities up the feature layers: h_L ≈ P(h_L | v)."""
        h = self.rbms[0]._check(x)
        for r in self.rbms:
            h = r.hidden_probs(h)
        return h

    def down(self, h: np.ndarray) -> np.ndarray:
        """Propagate probabilities down from h_L to the visible layer."""
        for r in reversed(self.rbms):
            h = r.visible_probs(h)
        return h

    # ------------------------------------------------------------------ training
    def pretrain(self, x: np.ndarray, epochs: int = 5, verbose: bool = False) -> DBN:
        """Greedy layer-wise unsupervised training of the feature RBMs on ``x``."""
        h = self.rbms[0]._check(x, "x")
        for i, r in enumerate(self.rbms):
            r.fit(h, epochs=epochs, init_visible_bias=(i == 0))
            h = r.hidden_probs(h)
            if verbose:
                print(f"DBN: layer {i + 1} trained ({r.n_visible} -> {r.n_hidden})")
        return self

    def _joint(self, h: np.ndarray, y: np.ndarray) -> np.ndarray:
        onehot = np.zeros((len(y), self.n_labels), h.dtype)
        onehot[np.arange(len(y)), y] = 1
        return np.hstack([h, onehot])

    def _check_labels(self, y: object, n: int) -> np.ndarray:
        y = np.asarray(y)
        if self.top is None:
            raise ValueError("DBN: built with n_labels=0, no label units")
        if y.shape != (n,) or y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= self.n_labels:
            raise ValueError(f"DBN: labels must be {n} integers in [0, {self.n_labels})")
        return y.astype(np.int64)

    def fit_top(self, x: np.ndarray, y: np.ndarray, epochs: int = 50) -> DBN:
        """Train the label-joined top RBM on labelled examples (x, y)."""
        h = self.up(x)
        y = self._check_labels(y, len(h))
        self.top.fit(self._joint(h, y), epochs=epochs)  # type: ignore[union-attr]
        # class-conditional mean of h_L: the starting state of :meth:`generate`'s chain
        means = np.full((self.n_labels, h.shape[1]), 0.5, h.dtype)
        for k in np.unique(y):
            means[k] = h[y == k].mean(0)
        self.class_features_ = means
        return self

    def fit(self, x_unlabelled: np.ndarray, x_labelled: np.ndarray, y_labelled: np.ndarray,
            epochs: int = 5, top_epochs: int = 50) -> DBN:
        """Semi-supervised training: :meth:`pretrain` on all images, then :meth:`fit_top`."""
        self.pretrain(x_unlabelled, epochs)
        return self.fit_top(x_labelled, y_labelled, top_epochs)

    # ------------------------------------------------------------------ using it
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """P(y | x) from the top RBM: softmax over k of -F(h_L(x), e_k)."""
        if self.top is None:
            raise ValueError("DBN: built with n_labels=0, no label units")
        h = self.up(x)
        f = np.stack([self.top.free_energy(self._joint(h, np.full(len(h), k)))
                      for k in range(self.n_labels)], axis=1)
        z = -f - (-f).max(1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The most probable label of each input."""
        return self.predict_proba(x).argmax(1)

    def generate(self, label: int, n: int = 1, gibbs_steps: int = 200) -> np.ndarray:
        """Images of class ``label``: clamp that label unit, run alternating Gibbs sampling in
        the top RBM, then run down through the feature layers. Returns (n, n_visible)
        probabilities.

        The chain starts at the class-conditional mean of h_L over the labelled examples seen
        by :meth:`fit_top` (0.5 if the class was absent), not at random noise: with a top RBM
        trained on few labels, a chain started from noise mostly stays in a label-agnostic,
        near-blank mode. The top hidden units are sampled; the h_L units are kept as
        probabilities (mean field), as in training (``sample_visible=False``), and the final
        down pass uses probabilities throughout. Fewer steps stay closer to the class mean.
        """
        if self.top is None or not 0 <= label < self.n_labels:
            raise ValueError(f"DBN.generate: label must be in [0, {self.n_labels})")
        top, nl = self.top, self.n_labels
        rng, dt = top.rng, top.dtype
        y = np.zeros((n, nl), dt)
        y[:, label] = 1
        means = getattr(self, "class_features_", None)
        start = means[label] if means is not None else np.full(top.n_visible - nl, 0.5)
        v = np.hstack([np.tile(start.astype(dt), (n, 1)), y])
        for _ in range(gibbs_steps):
            h = (rng.random((n, top.n_hidden), dtype=dt) < top.hidden_probs(v)).astype(dt)
            v = top.visible_probs(h)
            v[:, -nl:] = y                                  # keep the label clamped
        return self.down(top.visible_probs(top.hidden_probs(v))[:, :-nl])

    def to_mlp(self, n_outputs: int | None = None) -> Any:
        """A ``chainrule.nn.Sequential`` MLP (Linear + Sigmoid per feature RBM, weights and
        hidden biases copied) ending in a fresh Linear(h_L, n_outputs) layer of logits."""
        from .. import nn

        layers: list[Any] = []
        for r in self.rbms:
            lin = nn.Linear(r.n_visible, r.n_hidden)
            lin.weight.data[...] = r.W.T
            lin.bias.data[...] = r.b
            layers += [lin, nn.Sigmoid()]
        layers.append(nn.Linear(self.layer_sizes[-1], n_outputs or self.n_labels or 10))
        return nn.Sequential(*layers)
