"""Restricted Boltzmann machines (Bernoulli visible and hidden units).

Visible v ∈ {0,1}^m and hidden h ∈ {0,1}^n units, connections only between the layers:

    E(v, h) = -vᵀ W h - aᵀ v - bᵀ h ,
    P(h_j = 1 | v) = σ(b_j + vᵀ W_:j) ,    P(v_i = 1 | h) = σ(a_i + W_i: h) ,
    F(v) = -aᵀ v - Σ_j log(1 + exp(b_j + vᵀ W_:j))          (free energy, P(v) ∝ e^{-F(v)})

Contrastive divergence CD-k approximates the log-likelihood gradient

    ΔW = η (⟨v hᵀ⟩_data - ⟨v hᵀ⟩_k) - η λ W      (+ momentum)

with the negative statistics taken after k Gibbs steps started at the data (CD-k) or at
persistent fantasy chains (PCD, Tieleman 2008). The pseudo-log-likelihood follows
scikit-learn's ``BernoulliRBM.score_samples``: flip one random bit i per sample and return
m · log σ(F(ṽ) - F(v)), a stochastic proxy for m · log P(v_i | v_-i).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np

from .boltzmann import sigmoid


def _check_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x)


class RBM:
    """A Bernoulli-Bernoulli RBM.

    Args:
        n_visible, n_hidden: layer sizes.
        learning_rate: η.
        method: ``"cd"`` (contrastive divergence, default) or ``"pcd"`` (persistent CD, as
            scikit-learn; best with ``momentum=0`` and a small learning rate).
        k: Gibbs steps per update (CD-k / PCD-k).
        momentum: velocity factor (0 = plain SGD).
        weight_decay: L2 coefficient λ on W.
        batch_size: mini-batch size.
        sample_visible: sample binary visible states in the negative phase (as
            scikit-learn) instead of using their probabilities (Hinton's guide, less noise).
        dtype: float32 (default) or float64.
        seed: seed for initialisation, shuffling and sampling.

    Attributes: ``W`` (n_visible, n_hidden), ``a`` visible biases, ``b`` hidden biases,
    ``history`` (per-epoch pseudo-log-likelihood when ``fit(..., verbose)`` asks for it).
    """

    def __init__(self, n_visible: int, n_hidden: int, learning_rate: float = 0.1,
                 method: Literal["pcd", "cd"] = "cd", k: int = 1, momentum: float = 0.5,
                 weight_decay: float = 0.0, batch_size: int = 10, sample_visible: bool = False,
                 dtype: type = np.float32, seed: int | None = None) -> None:
        self.n_visible = _check_int("RBM: n_visible", n_visible)
        self.n_hidden = _check_int("RBM: n_hidden", n_hidden)
        if method not in ("pcd", "cd"):
            raise ValueError(f"RBM: method must be 'pcd' or 'cd', got {method!r}")
        if not learning_rate > 0:
            raise ValueError(f"RBM: learning_rate must be positive, got {learning_rate!r}")
        if not 0 <= momentum < 1:
            raise ValueError(f"RBM: momentum must be in [0, 1), got {momentum!r}")
        self.learning_rate, self.method, self.k = float(learning_rate), method, _check_int("k", k)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.batch_size = _check_int("RBM: batch_size", batch_size)
        self.sample_visible = sample_visible
        self.dtype = np.dtype(dtype)
        self.rng = np.random.default_rng(seed)
        self.W = self.rng.normal(0, 0.01, (n_visible, n_hidden)).astype(self.dtype)
        self.a = np.zeros(n_visible, self.dtype)
        self.b = np.zeros(n_hidden, self.dtype)
        self.history: list[float] = []
        self._chains: np.ndarray | None = None

    # ------------------------------------------------------------------ checks
    def _check(self, v: object, what: str = "v", binary: bool = False) -> np.ndarray:
        x = np.asarray(v)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.n_visible:
            raise ValueError(f"RBM({self.n_visible}, {self.n_hidden}): {what} must be "
                             f"(n_samples, {self.n_visible}), got shape {np.shape(v)}")
        if x.dtype.kind not in "biuf":
            raise ValueError(f"RBM: {what} must be numeric, got dtype {x.dtype}")
        x = x.astype(self.dtype, copy=False)
        if binary and not np.all((x == 0) | (x == 1)):
            raise ValueError(f"RBM: {what} must be binary (0/1)")
        if not binary and (x.min() < 0 or x.max() > 1):
            raise ValueError(f"RBM: {what} must lie in [0, 1] (Bernoulli probabilities)")
        return x

    # ------------------------------------------------------------------ conditionals
    def hidden_probs(self, v: np.ndarray) -> np.ndarray:
        """P(h = 1 | v) = σ(v W + b)."""
        return sigmoid(v @ self.W + self.b)

    def visible_probs(self, h: np.ndarray) -> np.ndarray:
        """P(v = 1 | h) = σ(h Wᵀ + a)."""
        return sigmoid(h @ self.W.T + self.a)

    def transform(self, v: object) -> np.ndarray:
        """Hidden features P(h = 1 | v), (n_samples, n_hidden)."""
        return self.hidden_probs(self._check(v))

    def reconstruct(self, v: object) -> np.ndarray:
        """One up-down pass: P(v' = 1 | h = P(h | v))."""
        return self.visible_probs(self.hidden_probs(self._check(v)))

    def free_energy(self, v: object) -> np.ndarray:
        """F(v) = -aᵀ v - Σ_j softplus(b_j + vᵀ W_:j), per sample."""
        x = self._check(v)
        return -(x @ self.a) - _softplus(x @ self.W + self.b).sum(axis=1)

    def pseudo_log_likelihood(self, v: object, seed: int | np.random.Generator | None = None,
                              flip: np.ndarray | None = None) -> np.ndarray:
        """Per-sample PLL as scikit-learn's ``score_samples``: m · log σ(F(ṽ) - F(v)),
        ṽ = v with one bit flipped (the column ``flip[i]``, random unless given)."""
        x = self._check(v)
        if flip is None:
            flip = np.random.default_rng(seed).integers(0, self.n_visible, len(x))
        rows = np.arange(len(x))
        x2 = x.copy()
        x2[rows, flip] = 1 - x2[rows, flip]
        d = self.free_energy(x2) - self.free_energy(x)
        return -self.n_visible * _softplus(-d)

    def gibbs(self, v: np.ndarray, steps: int = 1) -> np.ndarray:
        """``steps`` full Gibbs steps v → h → v (sampled binary states)."""
        x = self._check(v).copy()
        for _ in range(steps):
            h = self.rng.random((len(x), self.n_hidden), dtype=self.dtype) < self.hidden_probs(x)
            p = self.visible_probs(h.astype(self.dtype))
            x = (self.rng.random(p.shape, dtype=self.dtype) < p).astype(self.dtype)
        return x

    def sample(self, n: int, gibbs_steps: int = 1000, init: np.ndarray | None = None
               ) -> np.ndarray:
        """``n`` samples after ``gibbs_steps`` Gibbs steps from random (or ``init``) states;
        returns the visible probabilities of the last step (smoother to look at)."""
        n = _check_int("n", n)
        x = (self.rng.random((n, self.n_visible)) < 0.5).astype(self.dtype) if init is None \
            else self._check(init)
        if gibbs_steps > 1:
            x = self.gibbs(x, gibbs_steps - 1)
        h = self.rng.random((len(x), self.n_hidden), dtype=self.dtype) < self.hidden_probs(x)
        return self.visible_probs(h.astype(self.dtype))

    # ------------------------------------------------------------------ training
    def fit(self, data: object, epochs: int = 10, init_visible_bias: bool = True,
            verbose: bool = False) -> RBM:
        """Train for ``epochs`` passes over ``data`` (n_samples, n_visible) in [0, 1].

        ``init_visible_bias`` sets a_i = log(p_i / (1 - p_i)) from the data's unit means
        (Hinton's practical guide) before the first epoch.
        """
        x = self._check(data, "data")
        epochs = _check_int("epochs", epochs)
        n, dt = len(x), self.dtype
        bs = min(self.batch_size, n)
        if init_visible_bias and not self.history:
            p = np.clip(x.mean(axis=0), 1e-3, 1 - 1e-3)
            self.a = np.log(p / (1 - p)).astype(dt)
        if self.method == "pcd" and (self._chains is None or len(self._chains) != bs):
            self._chains = np.zeros((bs, self.n_hidden), dt)
        W, a, b = self.W, self.a, self.b
        vW, va, vb = np.zeros_like(W), np.zeros_like(a), np.zeros_like(b)
        lr, mom, wd, k = dt.type(self.learning_rate), self.momentum, self.weight_decay, self.k
        rng = self.rng
        n_batches = n // bs
        for _ in range(epochs):
            order = rng.permutation(n)
            for j in range(n_batches):
                v0 = x[order[j * bs:(j + 1) * bs]]
                h0 = sigmoid(v0 @ W + b)
                hs = self._chains if self.method == "pcd" else \
                    (rng.random(h0.shape, dtype=dt) < h0).astype(dt)
                for step in range(k):
                    vk = sigmoid(hs @ W.T + a)
                    if self.sample_visible:
                        vk = (rng.random(vk.shape, dtype=dt) < vk).astype(dt)
                    hk = sigmoid(vk @ W + b)
                    if step < k - 1 or self.method == "pcd":
                        hs = (rng.random(hk.shape, dtype=dt) < hk).astype(dt)
                if self.method == "pcd":
                    self._chains = hs
                scale = lr / len(v0)
                gW = v0.T @ h0
                gW -= vk.T @ hk
                gW *= scale
                if wd:
                    gW -= (lr * wd) * W
                vW *= mom
                vW += gW
                va *= mom
                va += scale * (v0.sum(0) - vk.sum(0))
                vb *= mom
                vb += scale * (h0.sum(0) - hk.sum(0))
                W += vW
                a += va
                b += vb
            if verbose:
                self.history.append(float(self.pseudo_log_likelihood(x[:1000], seed=0).mean()))
                print(f"epoch {len(self.history)}: pseudo-log-likelihood {self.history[-1]:.2f}")
            else:
                self.history.append(float("nan"))
        return self


def compare_with_sklearn(n_train: int = 10000, n_hidden: int = 64, epochs: int = 10,
                         learning_rate: float = 0.1, batch_size: int = 10,
                         data_dir: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Train ours and scikit-learn's BernoulliRBM on the same binarised MNIST subset with the
    same hidden size, epochs, learning rate and batch size; report test PLL and time
    (and our trained ``model``).

    Both PLLs are computed with the same flipped bits (our :meth:`RBM.pseudo_log_likelihood`
    applied to sklearn's weights), and sklearn's own ``score_samples`` is reported too.
    """
    from sklearn.neural_network import BernoulliRBM

    from ..data import load_mnist

    (xtr, _), (xte, _) = load_mnist(data_dir, flatten=True, download=False)
    xtr = (xtr[:n_train] > 0.5).astype(np.float32)
    xte = (xte[:2000] > 0.5).astype(np.float32)
    t0 = time.perf_counter()
    sk = BernoulliRBM(n_components=n_hidden, learning_rate=learning_rate,
                      batch_size=batch_size, n_iter=epochs, random_state=seed).fit(xtr)
    t_sk = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = RBM(784, n_hidden, learning_rate=learning_rate, batch_size=batch_size,
               seed=seed).fit(xtr, epochs=epochs)
    t_ours = time.perf_counter() - t0
    flip = np.random.default_rng(seed + 1).integers(0, 784, len(xte))
    twin = RBM(784, n_hidden, dtype=np.float64)
    twin.W, twin.a, twin.b = sk.components_.T.astype(np.float64), sk.intercept_visible_, \
        sk.intercept_hidden_
    return {"pll_ours": float(ours.pseudo_log_likelihood(xte, flip=flip).mean()),
            "pll_sklearn": float(twin.pseudo_log_likelihood(xte, flip=flip).mean()),
            "pll_sklearn_score_samples": float(sk.score_samples(xte).mean()),
            "time_ours": t_ours, "time_sklearn": t_sk, "model": ours}
