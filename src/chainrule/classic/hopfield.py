"""Hopfield networks: content-addressable memory with an energy that never increases.

A Hopfield net of N binary threshold units s_i ∈ {-1, +1} with symmetric weights
w_ij = w_ji and zero diagonal w_ii = 0 has the energy

    E(s) = -1/2 Σ_ij w_ij s_i s_j + Σ_i θ_i s_i .

Asynchronous updates  s_i ← sign(h_i),  h_i = Σ_j w_ij s_j - θ_i  (one unit at a time; a
unit with h_i = 0 keeps its state) change the energy by ΔE = -(s_i' - s_i) h_i ≤ 0, so the
net always settles into a local minimum. Patterns are stored in those minima by

    Hebb:     w_ij = 1/N Σ_μ ξ_i^μ ξ_j^μ                         (i ≠ j)
    Storkey:  w_ij += 1/N (ξ_i ξ_j - ξ_i h_ji - h_ij ξ_j),  h_ij = Σ_{k≠i,j} w_ik ξ_k

(one pattern at a time for Storkey). With Hebb's rule, random patterns are recalled up to a
load of about P ≈ 0.138 N (Amit, Gutfreund & Sompolinsky 1985).

Patterns may be given in the bipolar encoding (±1) or the binary one (0/1); the net works
in ±1 internally and answers in the encoding it was given.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Encoding = Literal["auto", "bipolar", "binary"]


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class Hopfield:
    """A Hopfield network of ``n_units`` binary threshold units.

    Args:
        n_units: N, the number of units (pattern length).
        encoding: ``"bipolar"`` (±1), ``"binary"`` (0/1) or ``"auto"`` (inferred from the
            values: any -1 means bipolar, any 0 means binary). Values outside the encoding
            raise ``ValueError``.

    Attributes:
        weights: (N, N) symmetric, zero-diagonal weight matrix.
        thresholds: (N,) thresholds θ (zero unless set).
        n_patterns: number of patterns stored so far.
    """

    def __init__(self, n_units: int, encoding: Encoding = "auto") -> None:
        self.n_units = _check_positive_int("Hopfield: n_units", n_units)
        if encoding not in ("auto", "bipolar", "binary"):
            raise ValueError(f"Hopfield: encoding must be 'auto', 'bipolar' or 'binary', "
                             f"got {encoding!r}")
        self.encoding: Encoding = encoding
        self.weights = np.zeros((n_units, n_units), dtype=np.float64)
        self.thresholds = np.zeros(n_units, dtype=np.float64)
        self.n_patterns = 0

    @property
    def n_connections(self) -> int:
        """Number of (symmetric) connections, N (N - 1) / 2: 630 for 6×6, 306,936 for 784."""
        return self.n_units * (self.n_units - 1) // 2

    # ------------------------------------------------------------------ encoding
    def _to_bipolar(self, x: object, what: str) -> tuple[np.ndarray, str]:
        """Validate ``x`` (..., N) and return it as float ±1 plus its encoding."""
        a = np.asarray(x)
        if a.ndim == 0 or a.shape[-1] != self.n_units:
            raise ValueError(f"Hopfield({self.n_units}): {what} must have length {self.n_units} "
                             f"in the last axis, got shape {a.shape}")
        if a.dtype.kind not in "biuf":
            raise ValueError(f"Hopfield: {what} must be numeric, got dtype {a.dtype}")
        values = np.unique(a)
        enc = self.encoding
        if enc == "auto":
            enc = "binary" if np.any(values == 0) else "bipolar"
        allowed = (-1, 1) if enc == "bipolar" else (0, 1)
        bad = values[~np.isin(values, allowed)]
        if bad.size:
            raise ValueError(f"Hopfield: {what} must contain only {allowed} ({enc} encoding), "
                             f"found {bad[:5].tolist()}")
        s = a.astype(np.float64)
        if enc == "binary":
            s = 2.0 * s - 1.0
        return s, enc

    @staticmethod
    def _from_bipolar(s: np.ndarray, enc: str) -> np.ndarray:
        return ((s + 1) / 2).astype(np.int8) if enc == "binary" else s.astype(np.int8)

    # ------------------------------------------------------------------ learning
    def fit(self, patterns: object, rule: Literal["hebb", "storkey"] = "hebb",
            reset: bool = True) -> Hopfield:
        """Store ``patterns`` (P, N) (or one pattern (N,)) with Hebb's or Storkey's rule.

        ``reset=False`` adds them to the patterns already stored. The diagonal stays zero.
        """
        if rule not in ("hebb", "storkey"):
            raise ValueError(f"Hopfield.fit: rule must be 'hebb' or 'storkey', got {rule!r}")
        xi, _ = self._to_bipolar(patterns, "patterns")
        xi = np.atleast_2d(xi)
        if xi.ndim != 2:
            raise ValueError(f"Hopfield.fit: patterns must be (P, N), got shape {xi.shape}")
        n = self.n_units
        w = np.zeros_like(self.weights) if reset else self.weights.copy()
        if rule == "hebb":
            w += xi.T @ xi / n
            np.fill_diagonal(w, 0.0)
        else:
            for p in xi:
                h = w @ p                              # h_i = Σ_k w_ik ξ_k  (w_ii = 0)
                hij = h[:, None] - w * p[None, :]      # h_ij = h_i - w_ij ξ_j
                w += (np.outer(p, p) - p[:, None] * hij.T - hij * p[None, :]) / n
                np.fill_diagonal(w, 0.0)
        self.weights = w
        self.n_patterns = (0 if reset else self.n_patterns) + xi.shape[0]
        return self

    # ------------------------------------------------------------------ dynamics
    def energy(self, state: object) -> np.ndarray | float:
        """E(s) = -1/2 sᵀ W s + θᵀ s (s in ±1) for one state (N,) or a batch (B, N)."""
        s, _ = self._to_bipolar(state, "state")
        e = -0.5 * np.einsum("...i,ij,...j->...", s, self.weights, s) + s @ self.thresholds
        return float(e) if np.ndim(e) == 0 else e

    def recall(self, state: object, steps: int = 20, mode: Literal["async", "sync"] = "async",
               seed: int | np.random.Generator | None = None) -> np.ndarray:
        """Run the net from ``state`` and return the trajectory.

        One step is a sweep: ``mode="async"`` updates every unit once, one at a time, in a
        random order (energy never increases); ``mode="sync"`` updates all units at once
        (s ← sign(W s - θ); may end in a 2-cycle). Stops early once no unit changes.

        Args:
            state: (N,) or a batch (B, N), in the net's encoding.
            steps: maximum number of sweeps.
            seed: for the asynchronous update order.

        Returns:
            (T + 1, N) or (T + 1, B, N) int8 states in the input's encoding, T ≤ steps; the
            first entry is the start state, the last the final state.
        """
        if mode not in ("async", "sync"):
            raise ValueError(f"Hopfield.recall: mode must be 'async' or 'sync', got {mode!r}")
        steps = _check_positive_int("Hopfield.recall: steps", steps)
        s, enc = self._to_bipolar(state, "state")
        single = s.ndim == 1
        s = np.atleast_2d(s).reshape(-1, self.n_units).copy()
        rng = np.random.default_rng(seed)
        w, theta = self.weights, self.thresholds
        traj = [s.copy()]
        for _ in range(steps):
            if mode == "sync":
                h = s @ w - theta
                new = np.where(h > 0, 1.0, np.where(h < 0, -1.0, s))
                changed = bool(np.any(new != s))
                s = new
            else:
                h = s @ w - theta                       # local fields, kept up to date
                changed = False
                for i in rng.permutation(self.n_units):
                    hi = h[:, i]
                    new = np.where(hi > 0, 1.0, np.where(hi < 0, -1.0, s[:, i]))
                    delta = new - s[:, i]
                    rows = np.flatnonzero(delta)
                    if rows.size:
                        changed = True
                        s[rows, i] = new[rows]
                        h[rows] += np.outer(delta[rows], w[i])
            traj.append(s.copy())
            if not changed:
                break
        out = np.stack(traj)
        if single:
            out = out[:, 0]
        return self._from_bipolar(out, enc)

    def predict(self, state: object, steps: int = 50, mode: Literal["async", "sync"] = "async",
                seed: int | np.random.Generator | None = None) -> np.ndarray:
        """The final state of :meth:`recall`."""
        return self.recall(state, steps, mode, seed)[-1]


def capacity_curve(n_units: int, loads: np.ndarray, trials: int = 1, overlap: float = 0.95,
                   seed: int = 0, steps: int = 30) -> dict[str, np.ndarray]:
    """Recall success versus load α = P/N for random ±1 patterns stored by Hebb's rule.

    For each load, P = round(α N) random patterns are stored; the net is started at every
    stored pattern and run asynchronously to a fixed point. A pattern counts as recalled if
    the overlap m = ξ·s / N of the final state with it is at least ``overlap`` (the
    retrieval state of the theory has m ≈ 0.97 up to α_c ≈ 0.138 and collapses beyond).

    Returns ``{"load", "success", "overlap", "exact"}``: fraction recalled, mean overlap and
    fraction of patterns that are exact fixed points, per load.
    """
    rng = np.random.default_rng(seed)
    success, mean_overlap, exact = [], [], []
    for alpha in loads:
        p = max(1, int(round(alpha * n_units)))
        ok = ov = ex = 0.0
        for _ in range(trials):
            xi = rng.choice([-1, 1], size=(p, n_units)).astype(np.int8)
            net = Hopfield(n_units, encoding="bipolar").fit(xi)
            final = net.predict(xi, steps=steps, seed=rng).astype(np.float64)
            m = np.sum(final * xi, axis=1) / n_units
            ok += np.mean(m >= overlap)
            ov += np.mean(m)
            ex += np.mean(m == 1.0)
        success.append(ok / trials)
        mean_overlap.append(ov / trials)
        exact.append(ex / trials)
    return {"load": np.asarray(loads, dtype=float), "success": np.array(success),
            "overlap": np.array(mean_overlap), "exact": np.array(exact)}


def spurious_states(net: Hopfield, patterns: np.ndarray, n_starts: int = 1000,
                    seed: int = 0, steps: int = 50) -> dict[str, int]:
    """Run the net from random states and classify the attractors it falls into.

    Categories: ``stored`` (a stored pattern), ``reversed`` (the negation -ξ of one),
    ``mixture`` (sign of ±ξ^a ± ξ^b ± ξ^c for three stored patterns), ``other`` (spin-glass
    states); ``distinct_spurious`` counts the different spurious attractors found and
    ``starts_*`` how many random starts ended in each category.
    """
    rng = np.random.default_rng(seed)
    xi, _ = net._to_bipolar(patterns, "patterns")
    xi = np.atleast_2d(xi)
    starts = rng.choice([-1, 1], size=(n_starts, net.n_units)).astype(np.int8)
    enc_start = starts if net.encoding != "binary" else (starts + 1) // 2
    final, _ = net._to_bipolar(net.predict(enc_start, steps=steps, seed=rng), "state")
    mixtures = set()
    p = xi.shape[0]
    for a in range(p):
        for b in range(a + 1, p):
            for c in range(b + 1, p):
                for sb in (1, -1):
                    for sc in (1, -1):
                        for sa in (1, -1):
                            m = np.sign(sa * xi[a] + sb * xi[b] + sc * xi[c])
                            mixtures.add(m.astype(np.int8).tobytes())
    stored = {x.astype(np.int8).tobytes() for x in xi}
    rev = {(-x).astype(np.int8).tobytes() for x in xi}
    counts = {"starts_stored": 0, "starts_reversed": 0, "starts_mixture": 0, "starts_other": 0}
    spurious: dict[str, set[bytes]] = {"reversed": set(), "mixture": set(), "other": set()}
    for s in final.astype(np.int8):
        key = s.tobytes()
        if key in stored:
            counts["starts_stored"] += 1
            continue
        kind = "reversed" if key in rev else "mixture" if key in mixtures else "other"
        counts[f"starts_{kind}"] += 1
        spurious[kind].add(key)
    out = dict(counts)
    out.update({f"distinct_{k}": len(v) for k, v in spurious.items()})
    out["distinct_spurious"] = sum(len(v) for v in spurious.values())
    return out
