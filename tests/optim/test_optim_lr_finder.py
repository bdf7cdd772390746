"""The learning-rate finder: sweeps, stops on divergence, suggests, and leaves no trace."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim


class Linear:
    """A duck-typed model: ``model(x)`` and ``parameters()``, no state_dict."""

    def __init__(self, n_in: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.w = cr.tensor(rng.normal(size=(n_in, 1)), requires_grad=True)
        self.b = cr.tensor(np.zeros(1), requires_grad=True)

    def __call__(self, x):
        return x @ self.w + self.b

    def parameters(self):
        return [self.w, self.b]


class LinearWithBuffer(Linear):
    """Also has a state_dict with a non-parameter buffer that forward updates."""

    def __init__(self, n_in: int) -> None:
        super().__init__(n_in)
        self.calls = np.zeros(1)

    def __call__(self, x):
        self.calls += 1
        return super().__call__(x)

    def state_dict(self):
        return {"w": self.w.data, "b": self.b.data, "calls": self.calls}

    def load_state_dict(self, sd):
        self.w.data[...] = sd["w"]
        self.b.data[...] = sd["b"]
        self.calls[...] = sd["calls"]


def mse(out, y):
    return ((out - y) ** 2).mean()


def _data(n_batches=30, batch=16, seed=1):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(4, 1))
    out = []
    for _ in range(n_batches):
        x = rng.normal(size=(batch, 4))
        out.append((x, x @ w + 0.1 * rng.normal(size=(batch, 1))))
    return out


def test_sweep_restores_model_and_optimizer_exactly():
    model = Linear(4)
    data = _data()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    for x, y in data[:3]:  # give the optimizer some state first
        opt.zero_grad()
        mse(model(cr.tensor(x)), y).backward()
        opt.step()
    model.w.grad = cr.tensor(np.full((4, 1), 0.5))
    model.b.grad = None
    arrays = [p.data for p in model.parameters()]
    values = [a.copy() for a in arrays]
    opt_before = opt.state_dict()

    res = optim.find_lr(model, mse, opt, data, start_lr=1e-6, end_lr=1.0, num_steps=50)

    assert len(res.lrs) == len(res.losses) == len(res.raw_losses) > 10
    assert all(p.data is a for p, a in zip(model.parameters(), arrays))
    for p, v in zip(model.parameters(), values):
        np.testing.assert_array_equal(p.data, v)
    np.testing.assert_array_equal(model.w.grad.data, np.full((4, 1), 0.5))
    assert model.b.grad is None
    after = opt.state_dict()
    assert after["param_groups"] == opt_before["param_groups"]
    for i, entry in opt_before["state"].items():
        for k, v in entry.items():
            np.testing.assert_array_equal(after["state"][i][k], v)


def test_sweep_is_exponential_and_smoothing_is_bias_corrected():
    model = Linear(4)
    opt = optim.SGD(model.parameters(), lr=0.1)
    res = optim.find_lr(model, mse, opt, _data(), start_lr=1e-5, end_lr=1e-3, num_steps=20,
                        smooth=0.9)
    assert not res.diverged and len(res.lrs) == 20
    np.testing.assert_allclose(res.lrs, np.geomspace(1e-5, 1e-3, 20), rtol=1e-12)
    avg, expected = 0.0, []
    for i, loss in enumerate(res.raw_losses):
        avg = 0.9 * avg + 0.1 * loss
        expected.append(avg / (1 - 0.9 ** (i + 1)))
    np.testing.assert_allclose(res.losses, expected, rtol=1e-12)
    assert res.losses[0] == pytest.approx(res.raw_losses[0])
    assert opt.param_groups[0]["lr"] == 0.1


def test_stops_on_divergence_and_suggests_a_stable_lr():
    model = Linear(4)
    opt = optim.SGD(model.parameters(), lr=0.1)
    res = optim.find_lr(model, mse, opt, _data(), start_lr=1e-4, end_lr=100.0, num_steps=100)
    assert res.diverged
    assert len(res.lrs) < 100
    assert res.losses[-1] > 4 * min(res.losses) or not np.isfinite(res.raw_losses[-1])
    # gradient descent on this least-squares problem (Hessian about 2 I) diverges above
    # lr ~ 1; the suggestion must sit in the range where the loss falls steadily
    assert res.suggested_lr is not None
    assert 0.01 < res.suggested_lr < 0.5
    i = res.lrs.index(res.suggested_lr)
    assert res.losses[i + 5] < res.losses[i] < res.losses[i - 5]


def test_short_data_is_cycled_and_model_state_dict_restored():
    model = LinearWithBuffer(4)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    res = optim.find_lr(model, mse, opt, _data(n_batches=3), start_lr=1e-5, end_lr=1e-2,
                        num_steps=12)
    assert len(res.lrs) == 12  # 3 batches, cycled four times
    assert model.calls[0] == 0  # the buffer was restored
    assert opt.state == {}  # no momentum buffers left behind


def test_restores_after_an_error_and_validates_arguments():
    model = Linear(4)
    opt = optim.SGD(model.parameters(), lr=0.1)
    before = model.w.data.copy()
    calls = []

    def bad_loss(out, y):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("boom")
        return mse(out, y)

    with pytest.raises(RuntimeError, match="boom"):
        optim.find_lr(model, bad_loss, opt, _data(), num_steps=10)
    np.testing.assert_array_equal(model.w.data, before)
    assert opt.param_groups[0]["lr"] == 0.1
    with pytest.raises(ValueError, match="no batches"):
        optim.find_lr(model, mse, opt, [], num_steps=10)
    with pytest.raises(ValueError, match="end_lr"):
        optim.find_lr(model, mse, opt, _data(), start_lr=1.0, end_lr=0.5)
    with pytest.raises(ValueError, match="num_steps"):
        optim.find_lr(model, mse, opt, _data(), num_steps=1)


def test_suggest_lr_rules():
    lrs = list(np.geomspace(1e-4, 1.0, 9))
    losses = [1.0, 1.0, 0.99, 0.95, 0.6, 0.3, 0.28, 0.6, 2.0]
    # steepest central slope at index 4
    assert optim.suggest_lr(lrs, losses, "steepest", skip_start=0, skip_end=0) == lrs[4]
    assert optim.suggest_lr(lrs, losses, "minimum", skip_end=0) == pytest.approx(lrs[6] / 10)
    # longest decreasing run: indices 0/1 .. 6 (length 6) -> start 0, 0 + 2 + 1 = 3
    assert optim.suggest_lr(lrs, losses, "valley", skip_end=0) == lrs[3]
    assert optim.suggest_lr(lrs[:2], losses[:2]) is None
    with pytest.raises(ValueError, match="method"):
        optim.suggest_lr(lrs, losses, "median")
