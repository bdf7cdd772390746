"""Boltzmann machines: fully connected stochastic binary units.

Units s ∈ {0, 1}^n (the first ``n_visible`` visible, the rest hidden) with symmetric weights
W (zero diagonal) and biases b have the energy and the Boltzmann distribution

    E(s) = -1/2 sᵀ W s - bᵀ s ,     P(s) = exp(-E(s)/T) / Z .

Gibbs sampling updates one unit at a time with

    P(s_i = 1 | s_rest) = σ((Σ_j w_ij s_j + b_i) / T) .

Learning maximises the log-likelihood of the visible data; its gradient is the difference
of a positive (data, visible units clamped) and a negative (free-running model) phase:

    ∂ log P(v) / ∂w_ij = (⟨s_i s_j⟩_data - ⟨s_i s_j⟩_model) / T ,
    ∂ log P(v) / ∂b_i  = (⟨s_i⟩_data - ⟨s_i⟩_model) / T .

For small nets both expectations are computed exactly by enumerating all 2^n states
(``method="exact"``); otherwise they are estimated by Gibbs sampling (``method="sampled"``,
with persistent negative chains).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^{-x}), overflow-safe."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_temperature(t: object) -> float:
    try:
        t = float(t)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a positive number, got {t!r}") from None
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a positive number, got {t!r}")
    return t


def _all_states(n: int) -> np.ndarray:
    """All 2^n binary vectors, (2^n, n), in binary counting order (first unit = MSB)."""
    idx = np.arange(2 ** n)
    return ((idx[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(np.float64)


class BoltzmannMachine:
    """A (general, fully connected) Boltzmann machine.

    Args:
        n_visible: number of visible units.
        n_hidden: number of hidden units (may be 0).
        temperature: T > 0 in P(s_i = 1) = σ((Σ_j w_ij s_j + b_i) / T).
        seed: seed for the weight initialisation and all sampling.
    """

    def __init__(self, n_visible: int, n_hidden: int = 0, temperature: float = 1.0,
                 seed: int | None = None) -> None:
        self.n_visible = _check_int("BoltzmannMachine: n_visible", n_visible, 1)
        self.n_hidden = _check_int("BoltzmannMachine: n_hidden", n_hidden, 0)
        self.temperature = _check_temperature(temperature)
        self.n_units = self.n_visible + self.n_hidden
        self.rng = np.random.default_rng(seed)
        w = self.rng.normal(0.0, 0.1, (self.n_units, self.n_units))
        w = np.triu(w, 1)
        self.weights = w + w.T
        self.biases = np.zeros(self.n_units)
        self._chains: np.ndarray | None = None

    # ------------------------------------------------------------------ checks
    def _check_visible(self, v: object, what: str = "data") -> np.ndarray:
        a = np.asarray(v)
        if a.ndim != 2 or a.shape[1] != self.n_visible:
            raise ValueError(f"BoltzmannMachine: {what} must be (n_samples, {self.n_visible}), "
                             f"got shape {a.shape}")
        if a.dtype.kind not in "biuf" or not np.all((a == 0) | (a == 1)):
            raise ValueError(f"BoltzmannMachine: {what} must contain only 0 and 1")
        return a.astype(np.float64)

    # ------------------------------------------------------------------ energy
    def energy(self, states: np.ndarray) -> np.ndarray:
        """E(s) = -1/2 sᵀ W s - bᵀ s for states (B, n_units)."""
        s = np.asarray(states, dtype=np.float64)
        return -0.5 * np.einsum("bi,ij,bj->b", s, self.weights, s) - s @ self.biases

    def distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """Exact P(v) over all 2^n_visible visible vectors by enumeration: (states, probs)."""
        if self.n_units > 20:
            raise ValueError(f"BoltzmannMachine: exact enumeration needs n_units <= 20, "
                             f"got {self.n_units}")
        s = _all_states(self.n_units)
        logp = -self.energy(s) / self.temperature
        p = np.exp(logp - logp.max())
        p /= p.sum()
        # visible index = the top n_visible bits of the state index
        pv = p.reshape(2 ** self.n_visible, 2 ** self.n_hidden).sum(axis=1)
        return _all_states(self.n_visible), pv

    # ------------------------------------------------------------------ sampling
    def gibbs(self, states: np.ndarray, sweeps: int = 1, clamp: int = 0,
              temperature: float | Sequence[float] | None = None) -> np.ndarray:
        """Sequential Gibbs sweeps over the units of a batch of states (B, n_units).

        The first ``clamp`` units (e.g. ``n_visible`` for the positive phase) are left
        unchanged. ``temperature`` may be a sequence with one temperature per sweep
        (simulated annealing). Returns the new states (the input is not modified).
        """
        s = np.array(states, dtype=np.float64, copy=True)
        if s.ndim != 2 or s.shape[1] != self.n_units:
            raise ValueError(f"BoltzmannMachine.gibbs: states must be (B, {self.n_units}), "
                             f"got {s.shape}")
        if temperature is None or np.ndim(temperature) == 0:
            t = self.temperature if temperature is None else temperature
            temps = [_check_temperature(t)] * _check_int("sweeps", sweeps, 0)
        else:
            temps = [_check_temperature(t) for t in temperature]  # type: ignore[union-attr]
        w, b = self.weights, self.biases
        for t in temps:
            u = self.rng.random((s.shape[0], self.n_units))
            for i in range(clamp, self.n_units):
                p = sigmoid((s @ w[i] + b[i]) / t)
                s[:, i] = u[:, i] < p
        return s

    def anneal(self, states: np.ndarray, t_start: float = 10.0, t_end: float | None = None,
               sweeps: int = 50, clamp: int = 0) -> np.ndarray:
        """Simulated annealing: Gibbs sweeps while T falls geometrically from ``t_start`` to
        ``t_end`` (default: the machine's temperature)."""
        t_end = self.temperature if t_end is None else t_end
        temps = np.geomspace(_check_temperature(t_start), _check_temperature(t_end), sweeps)
        return self.gibbs(states, clamp=clamp, temperature=temps)

    def sample(self, n: int, burn_in: int = 100, thin: int = 1) -> np.ndarray:
        """``n`` visible samples from n independent Gibbs chains after ``burn_in`` sweeps.

        (``thin`` extra sweeps are not needed between independent chains; kept for
        single-chain use.)
        """
        n = _check_int("n", n, 1)
        s0 = (self.rng.random((n, self.n_units)) < 0.5).astype(np.float64)
        s = self.gibbs(s0, sweeps=burn_in + thin - 1)
        return s[:, : self.n_visible].astype(np.int8)

    # ------------------------------------------------------------------ learning
    def _exact_phases(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """⟨s sᵀ⟩ under the data (hidden units from P(h|v)) and under the model, exactly."""
        t = self.temperature
        s = _all_states(self.n_units)
        logp = -self.energy(s) / t
        p = np.exp(logp - logp.max())
        p /= p.sum()
        neg = (s * p[:, None]).T @ s
        # positive phase: group the data by visible vector
        nv, nh = self.n_visible, self.n_hidden
        idx = (v @ (1 << np.arange(nv - 1, -1, -1))).astype(int)
        counts = np.bincount(idx, minlength=2 ** nv) / len(v)
        lp = logp.reshape(2 ** nv, 2 ** nh)
        ph = np.exp(lp - lp.max(axis=1, keepdims=True))
        ph /= ph.sum(axis=1, keepdims=True)
        q = (ph * counts[:, None]).reshape(-1)       # q(v, h) = p_data(v) P(h|v)
        pos = (s * q[:, None]).T @ s
        return pos, neg

    def _sampled_phases(self, v: np.ndarray, sweeps: int, n_chains: int
                        ) -> tuple[np.ndarray, np.ndarray]:
        nh = self.n_hidden
        h0 = (self.rng.random((len(v), nh)) < 0.5).astype(np.float64)
        spos = self.gibbs(np.hstack([v, h0]), sweeps=sweeps if nh else 0, clamp=self.n_visible)
        if self._chains is None or len(self._chains) != n_chains:
            self._chains = (self.rng.random((n_chains, self.n_units)) < 0.5).astype(np.float64)
        self._chains = self.gibbs(self._chains, sweeps=sweeps)
        pos = spos.T @ spos / len(spos)
        neg = self._chains.T @ self._chains / len(self._chains)
        return pos, neg

    def fit(self, data: np.ndarray, epochs: int = 1000, learning_rate: float = 0.5,
            method: Literal["auto", "exact", "sampled"] = "auto", momentum: float = 0.5,
            batch_size: int | None = None, sweeps: int = 5, n_chains: int = 100,
            weight_decay: float = 0.0) -> BoltzmannMachine:
        """Learn from binary data (n_samples, n_visible) by the positive/negative-phase rule.

        Δw_ij = η (⟨s_i s_j⟩_data - ⟨s_i s_j⟩_model) / T - λ w_ij (with momentum);
        ``method="auto"`` is exact when n_units ≤ 12, else sampled (persistent chains).
        """
        v = self._check_visible(data)
        if method == "auto":
            method = "exact" if self.n_units <= 12 else "sampled"
        if method not in ("exact", "sampled"):
            raise ValueError(f"BoltzmannMachine.fit: unknown method {method!r}")
        if method == "exact" and self.n_units > 20:
            raise ValueError("BoltzmannMachine.fit: method='exact' needs n_units <= 20")
        epochs = _check_int("epochs", epochs, 1)
        vel = np.zeros_like(self.weights)
        vel_b = np.zeros_like(self.biases)
        for _ in range(epochs):
            batches = [v] if batch_size is None else np.array_split(
                v[self.rng.permutation(len(v))], max(1, len(v) // batch_size))
            for vb in batches:
                if method == "exact":
                    pos, neg = self._exact_phases(vb)
                else:
                    pos, neg = self._sampled_phases(vb, sweeps, n_chains)
                g = (pos - neg) / self.temperature
                gw = g.copy()
                np.fill_diagonal(gw, 0.0)
                vel = momentum * vel + learning_rate * (gw - weight_decay * self.weights)
                vel_b = momentum * vel_b + learning_rate * np.diag(g)
                self.weights = self.weights + vel
                self.biases = self.biases + vel_b
        return self


def total_variation(samples: np.ndarray, target: dict[tuple[int, ...], float]) -> float:
    """TV distance ½ Σ_x |p̂(x) - p(x)| between the empirical distribution of binary rows
    ``samples`` and a target distribution given as {tuple: probability}."""
    rows, counts = np.unique(np.asarray(samples).astype(int), axis=0, return_counts=True)
    emp = {tuple(int(x) for x in r): c / len(samples) for r, c in zip(rows, counts)}
    keys = set(emp) | set(target)
    return 0.5 * sum(abs(emp.get(k, 0.0) - target.get(k, 0.0)) for k in keys)


TRIPLETS = {(0, 1, 1): 0.75, (0, 0, 1): 0.10, (1, 1, 1): 0.15}
"""The book's toy distribution over binary triplets."""


def triplet_experiment(n_train: int = 2000, n_hidden: int = 3, epochs: int = 1500,
                       n_samples: int = 20000, seed: int = 0) -> dict[str, float]:
    """Train on triplets drawn 75 % (0,1,1), 10 % (0,0,1), 15 % (1,1,1); return the TV
    distance of the model's exact distribution and of its Gibbs samples to the target."""
    rng = np.random.default_rng(seed)
    keys = list(TRIPLETS)
    idx = rng.choice(len(keys), size=n_train, p=[TRIPLETS[k] for k in keys])
    data = np.array(keys, dtype=np.int8)[idx]
    bm = BoltzmannMachine(3, n_hidden, seed=seed).fit(data, epochs=epochs, method="exact")
    states, pv = bm.distribution()
    exact = {tuple(int(x) for x in s): float(p) for s, p in zip(states, pv)}
    tv_exact = 0.5 * sum(abs(exact[k] - TRIPLETS.get(k, 0.0)) for k in exact)
    samples = bm.sample(n_samples, burn_in=50)
    return {"tv_exact": tv_exact, "tv_samples": total_variation(samples, TRIPLETS),
            "tv_data": total_variation(data, TRIPLETS), **{str(k): exact[k] for k in keys}}
