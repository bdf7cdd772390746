"""experiments/weidman_boston.py, ch. 7 (issue 20): the book's PyTorch recipe in chainrule
and in PyTorch, on a toy table (the real run is in docs/data_pipelines.md)."""

import numpy as np
import pytest


def _toy_split():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 13))
    y = (x[:, :3].sum(axis=1, keepdims=True) * 3 + 20 + rng.normal(size=(120, 1)))
    return x[:90], x[90:], y[:90], y[90:]


def test_chainrule_recipe_learns_and_starts_from_torch_weights(load_experiment, monkeypatch):
    torch = pytest.importorskip("torch", reason="PyTorch runs the book's own recipe")
    m = load_experiment("weidman_boston")
    monkeypatch.setitem(m.CH7, "epochs", 25)
    split = _toy_split()
    baseline = float(((split[3] - split[2].mean()) ** 2).mean())
    mse_torch, start = m.ch7_torch(0, split)
    assert set(start) == {"0.weight", "0.bias", "3.weight", "3.bias"}
    ours = m.ch7_chainrule(0, split)
    from_torch = m.ch7_chainrule(0, split, start)
    for mse in (mse_torch, ours, from_torch):
        assert np.isfinite(mse) and mse < 0.5 * baseline  # all three learn the toy target
    # with no epochs, chainrule from torch's weights predicts what torch's initial net does
    monkeypatch.setitem(m.CH7, "epochs", 0)
    net = torch.nn.Sequential(torch.nn.Linear(13, 13), torch.nn.Tanh(), torch.nn.Dropout(0.2),
                              torch.nn.Linear(13, 1)).eval()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in start.items()})
    with torch.no_grad():
        pred = net(torch.tensor(split[1], dtype=torch.float32)).numpy()
    expected = float(((pred - split[3]) ** 2).mean())
    assert m.ch7_chainrule(0, split, start) == pytest.approx(expected, rel=1e-5)
