"""Shared problem for the optimizer tests: gradients come from NumPy, so chainrule and the
PyTorch oracle see exactly the same gradient for the same parameter values."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


class Problem:
    """loss = mean((X W + b - Y)**2) + 0.05 * sum(W**4) + sum(c**2 / 2 + c**4 / 4)

    ``c`` gets no gradient during the first ``c_starts`` steps (its ``.grad`` is None, so
    optimizers must skip it) — that checks lazily created state.
    """

    c_starts = 3

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.X = rng.normal(size=(8, 3))
        self.Y = rng.normal(size=(8, 4))
        self.init = [rng.normal(size=(3, 4)), rng.normal(size=(4,)), rng.normal(size=(2, 2))]

    def grads(self, step: int, W: np.ndarray, b: np.ndarray, c: np.ndarray) -> list:
        X, Y = self.X.astype(W.dtype), self.Y.astype(W.dtype)
        R = X @ W + b - Y
        n = len(X)
        gc = None if step < self.c_starts else c + c ** 3
        return [2 * X.T @ R / n + 0.2 * W ** 3, 2 * R.sum(0) / n, gc]

    def run(self, make_opt, steps: int = 20, dtype=np.float64, on_step=None) -> list:
        """chainrule trajectory: a list (per step) of the parameter arrays."""
        params = [cr.tensor(a.astype(dtype), requires_grad=True) for a in self.init]
        opt = make_opt(params)
        traj = []
        for t in range(steps):
            for p, g in zip(params, self.grads(t, *[p.data for p in params])):
                p.grad = None if g is None else cr.tensor(g)
            opt.step()
            if on_step is not None:
                on_step(t, opt)
            traj.append([p.data.copy() for p in params])
        return traj

    def run_torch(self, make_opt, steps: int = 20, dtype=np.float64, on_step=None) -> list:
        import torch

        # torch keeps scalar state (NAdam's mu_product) in the default dtype
        saved = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
        try:
            return self._run_torch(make_opt, steps, dtype, on_step)
        finally:
            torch.set_default_dtype(saved)

    def _run_torch(self, make_opt, steps, dtype, on_step) -> list:
        import torch

        params = [torch.tensor(a.astype(dtype), requires_grad=True) for a in self.init]
        opt = make_opt(params)
        traj = []
        for t in range(steps):
            arrays = [p.detach().numpy() for p in params]
            for p, g in zip(params, self.grads(t, *arrays)):
                p.grad = None if g is None else torch.from_numpy(g.copy())
            opt.step()
            if on_step is not None:
                on_step(t, opt)
            traj.append([p.detach().numpy().copy() for p in params])
        return traj


@pytest.fixture
def problem() -> Problem:
    return Problem()


def assert_same_trajectory(a: list, b: list, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    assert len(a) == len(b)
    for t, (pa, pb) in enumerate(zip(a, b)):
        for i, (x, y) in enumerate(zip(pa, pb)):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol,
                                       err_msg=f"step {t}, parameter {i}")


@pytest.fixture
def same_trajectory():
    return assert_same_trajectory
