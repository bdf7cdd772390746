"""Self-organizing maps (Kohonen): a grid of prototype vectors that learns the data's shape.

Each map unit u at grid position r_u has a weight vector w_u ∈ R^dim. For an input x the
best-matching unit is c(x) = argmin_u ||x - w_u||, and training pulls c and its grid
neighbours towards x with a Gaussian neighbourhood

    h_cu(t) = exp(-||r_c - r_u||² / (2 σ(t)²)) ,
    online:  w_u ← w_u + η(t) h_cu(t) (x - w_u)                  (one sample at a time)
    batch:   w_u ← Σ_n h_{c(x_n) u} x_n / Σ_n h_{c(x_n) u}      (one epoch at a time)

with a decaying learning rate and radius; the default schedule is MiniSom's asymptotic
decay η(t) = η₀ / (1 + 2t/T), σ(t) = σ₀ / (1 + 2t/T). Quality measures: the quantisation
error (mean ||x - w_c(x)||) and the topographic error (fraction of inputs whose best and
second-best units are not grid neighbours, diagonals included). The U-matrix holds each
unit's mean distance to its grid neighbours' weights (high = cluster border).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Decay = Literal["asymptotic", "linear", "exponential"]


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _decay(x0: float, t: np.ndarray, total: int, kind: Decay) -> np.ndarray:
    """The schedule x(t) for t = 0..total-1."""
    if kind == "asymptotic":
        return x0 / (1 + t / (total / 2))
    if kind == "linear":
        return x0 * (1 - t / total)
    if kind == "exponential":
        return x0 * np.exp(-3.0 * t / total)
    raise ValueError(f"SOM: decay must be 'asymptotic', 'linear' or 'exponential', got {kind!r}")


class SOM:
    """A rectangular ``rows`` × ``cols`` self-organizing map of ``dim``-dimensional inputs.

    Args:
        rows, cols, dim: map size and input dimension (all positive).
        sigma: initial neighbourhood radius σ₀ (default max(rows, cols) / 2).
        learning_rate: initial η₀ (online training).
        decay: schedule for η and σ: ``"asymptotic"`` (MiniSom's), ``"linear"`` or
            ``"exponential"``.
        seed: seed for initialisation and sample order.

    Attributes: ``weights`` (rows, cols, dim).
    """

    def __init__(self, rows: int, cols: int, dim: int, sigma: float | None = None,
                 learning_rate: float = 0.5, decay: Decay = "asymptotic",
                 seed: int | None = None) -> None:
        self.rows = _check_int("SOM: rows", rows)
        self.cols = _check_int("SOM: cols", cols)
        self.dim = _check_int("SOM: dim", dim)
        self.sigma = float(max(rows, cols) / 2 if sigma is None else sigma)
        if not self.sigma > 0:
            raise ValueError(f"SOM: sigma must be positive, got {sigma!r}")
        if not learning_rate > 0:
            raise ValueError(f"SOM: learning_rate must be positive, got {learning_rate!r}")
        _decay(1.0, np.zeros(1), 1, decay)
        self.learning_rate, self.decay = float(learning_rate), decay
        self.rng = np.random.default_rng(seed)
        self.weights = self.rng.random((rows, cols, dim))
        r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        self._grid = np.stack([r.ravel(), c.ravel()], axis=1).astype(np.float64)

    # ------------------------------------------------------------------ helpers
    def _check(self, data: object) -> np.ndarray:
        x = np.asarray(data, dtype=np.float64) if np.asarray(data).dtype.kind in "biuf" \
            else None
        if x is None:
            raise ValueError("SOM: data must be numeric")
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.dim or len(x) == 0:
            raise ValueError(f"SOM({self.rows}x{self.cols}, dim={self.dim}): data must be "
                             f"(n_samples >= 1, {self.dim}), got shape {np.shape(data)}")
        if not np.all(np.isfinite(x)):
            raise ValueError("SOM: data contains NaN or infinity")
        return x

    def _distances2(self, x: np.ndarray) -> np.ndarray:
        """Squared distances (n, units) via ||x||² - 2 x·w + ||w||² (clipped at 0)."""
        w = self.weights.reshape(-1, self.dim)
        d = (x * x).sum(1)[:, None] - 2 * x @ w.T + (w * w).sum(1)[None, :]
        return np.maximum(d, 0)

    def neighbourhood(self, bmu_index: np.ndarray | int, sigma: float) -> np.ndarray:
        """h = exp(-||r_c - r_u||² / 2σ²) for BMU flat indices; (..., rows*cols)."""
        rc = self._grid[np.asarray(bmu_index)]
        d2 = ((rc[..., None, :] - self._grid) ** 2).sum(-1)
        return np.exp(-d2 / (2 * sigma * sigma))

    # ------------------------------------------------------------------ queries
    def bmu(self, data: object) -> np.ndarray:
        """Grid coordinates (n, 2) of each input's best-matching unit."""
        idx = self._distances2(self._check(data)).argmin(1)
        return np.stack(np.unravel_index(idx, (self.rows, self.cols)), axis=1)

    def winner(self, x: object) -> tuple[int, int]:
        """The best-matching unit (row, col) of one input."""
        r, c = self.bmu(x)[0]
        return int(r), int(c)

    def quantization_error(self, data: object) -> float:
        """Mean distance between each input and its best-matching unit's weights."""
        d = self._distances2(self._check(data))
        return float(np.sqrt(d.min(1)).mean())

    def topographic_error(self, data: object) -> float:
        """Fraction of inputs whose two best units are not adjacent (8-neighbourhood)."""
        if self.rows * self.cols == 1:
            return float("nan")
        d = self._distances2(self._check(data))
        two = np.argpartition(d, 1, axis=1)[:, :2]
        g = self._grid[two]
        return float((np.abs(g[:, 0] - g[:, 1]).max(1) > 1).mean())

    def u_matrix(self) -> np.ndarray:
        """(rows, cols): mean Euclidean distance of each unit's weights to its 4 neighbours'."""
        w = self.weights
        total = np.zeros((self.rows, self.cols))
        count = np.zeros((self.rows, self.cols))
        dv = np.linalg.norm(w[1:] - w[:-1], axis=-1)
        dh = np.linalg.norm(w[:, 1:] - w[:, :-1], axis=-1)
        total[1:] += dv
        total[:-1] += dv
        count[1:] += 1
        count[:-1] += 1
        total[:, 1:] += dh
        total[:, :-1] += dh
        count[:, 1:] += 1
        count[:, :-1] += 1
        return total / np.maximum(count, 1)

    # ------------------------------------------------------------------ training
    def init_from_data(self, data: object) -> SOM:
        """Initialise the weights with randomly chosen inputs."""
        x = self._check(data)
        idx = self.rng.integers(0, len(x), self.rows * self.cols)
        self.weights = x[idx].reshape(self.rows, self.cols, self.dim).copy()
        return self

    def train_online(self, data: object, n_iterations: int, random_order: bool = True,
                     order: np.ndarray | None = None) -> SOM:
        """``n_iterations`` single-sample updates w ← w + η(t) h(t) (x - w).

        The samples are taken in a random order (cycling through the data, as MiniSom), in
        the given order (``order``: sample indices of length ``n_iterations``) or in turn.
        """
        x = self._check(data)
        n_it = _check_int("n_iterations", n_iterations)
        if order is None:
            order = np.arange(n_it) % len(x)
            if random_order:
                self.rng.shuffle(order)
        order = np.asarray(order)
        if order.shape != (n_it,) or order.min() < 0 or order.max() >= len(x):
            raise ValueError(f"SOM.train_online: order must be {n_it} indices into the data")
        t = np.arange(n_it)
        eta = _decay(self.learning_rate, t, n_it, self.decay)
        sig = _decay(self.sigma, t, n_it, self.decay)
        w = self.weights.reshape(-1, self.dim).copy()
        gr, gc = self._grid[:, 0], self._grid[:, 1]
        inv = -1.0 / (2 * sig * sig)
        for i in range(n_it):
            diff = x[order[i]] - w
            c = np.einsum("ij,ij->i", diff, diff).argmin()
            d2 = (gr - gr[c]) ** 2 + (gc - gc[c]) ** 2
            g = np.exp(d2 * inv[i])
            g *= eta[i]
            diff *= g[:, None]
            w += diff
        self.weights = w.reshape(self.rows, self.cols, self.dim)
        return self

    def train_batch(self, data: object, epochs: int = 10) -> SOM:
        """Batch SOM: each epoch sets every unit to the neighbourhood-weighted mean of the
        inputs, w_u = Σ_n h_{c(n)u} x_n / Σ_n h_{c(n)u}, with σ decaying over epochs."""
        x = self._check(data)
        epochs = _check_int("epochs", epochs)
        sig = _decay(self.sigma, np.arange(epochs), epochs, self.decay)
        sig = np.maximum(sig, 0.5)
        units = self.rows * self.cols
        for e in range(epochs):
            c = self._distances2(x).argmin(1)
            counts = np.bincount(c, minlength=units).astype(np.float64)
            sums = np.zeros((units, self.dim))
            np.add.at(sums, c, x)
            h = self.neighbourhood(np.arange(units), sig[e])       # symmetric (units, units)
            num, den = h @ sums, h @ counts
            w = self.weights.reshape(units, self.dim)
            keep = den > 1e-12
            w[keep] = num[keep] / den[keep, None]
            self.weights = w.reshape(self.rows, self.cols, self.dim)
        return self


def compare_with_minisom(data: np.ndarray, rows: int = 10, cols: int = 10,
                         n_iterations: int = 5000, sigma: float = 2.0,
                         learning_rate: float = 0.5, seed: int = 0) -> dict[str, float]:
    """Online training of ours and MiniSom with the same data, initial weights, schedule
    (asymptotic decay of η and σ, Gaussian neighbourhood) and number of iterations."""
    import time

    from minisom import MiniSom

    x = np.asarray(data, dtype=np.float64)
    ours = SOM(rows, cols, x.shape[1], sigma=sigma, learning_rate=learning_rate,
               seed=seed).init_from_data(x)
    ms = MiniSom(rows, cols, x.shape[1], sigma=sigma, learning_rate=learning_rate,
                 neighborhood_function="gaussian", random_seed=seed)
    ms._weights = ours.weights.copy()
    # the same sample order as MiniSom's (it shuffles arange(T) % n with its RandomState)
    rs = np.random.RandomState()
    rs.set_state(ms._random_generator.get_state())
    order = np.arange(n_iterations) % len(x)
    rs.shuffle(order)
    t0 = time.perf_counter()
    ms.train(x, n_iterations, random_order=True)
    t_ms = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours.train_online(x, n_iterations, order=order)
    t_ours = time.perf_counter() - t0
    return {"qe_ours": ours.quantization_error(x), "qe_minisom": float(ms.quantization_error(x)),
            "te_ours": ours.topographic_error(x), "te_minisom": float(ms.topographic_error(x)),
            "time_ours": t_ours, "time_minisom": t_ms}
