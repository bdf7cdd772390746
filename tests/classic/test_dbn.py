import numpy as np
import pytest

from chainrule.classic import DBN


def _toy(n=400, seed=0):
    rng = np.random.default_rng(seed)
    protos = (rng.random((3, 30)) < 0.5).astype(np.float32)
    y = rng.integers(0, 3, n)
    x = np.where(rng.random((n, 30)) < 0.05, 1 - protos[y], protos[y])
    return x.astype(np.float32), y


def test_dbn_classifies_and_generates():
    x, y = _toy()
    dbn = DBN([30, 16], n_labels=3, top_hidden=32, seed=0)
    dbn.fit(x, x[:60], y[:60], epochs=10, top_epochs=100)
    assert np.mean(dbn.predict(x) == y) > 0.9
    p = dbn.predict_proba(x[:5])
    assert np.allclose(p.sum(1), 1)
    g = dbn.generate(1, n=20, gibbs_steps=50)
    protos = np.stack([x[y == k].mean(0) > 0.5 for k in range(3)])
    nearest = ((g > 0.5)[:, None] != protos[None]).sum(-1).argmin(1)
    assert np.mean(nearest == 1) > 0.7
    mlp = dbn.to_mlp()
    from chainrule import Tensor
    assert mlp(Tensor(x[:4])).shape == (4, 3)


def test_dbn_bad_input():
    with pytest.raises(ValueError):
        DBN([784])
    with pytest.raises(ValueError):
        DBN([784, 0])
    dbn = DBN([30, 16], n_labels=3, seed=0)
    with pytest.raises(ValueError, match="labels"):
        dbn.fit_top(np.zeros((4, 30)), np.array([0, 1, 2, 3]))


def test_dbn_generate_matches_class_on_digits():
    from chainrule.data import load_digits

    x, y = load_digits()
    x = (x > 8).astype(np.float32)
    dbn = DBN([64, 64], n_labels=10, top_hidden=128, seed=0)
    lab = np.random.default_rng(0).choice(len(x), 300, replace=False)
    dbn.fit(x, x[lab], y[lab], epochs=10, top_epochs=100)
    means = np.stack([x[y == k].mean(0) for k in range(10)])
    hits = 0
    for k in range(10):
        g = dbn.generate(k, n=10, gibbs_steps=50)
        assert g.shape == (10, 64) and np.all((g >= 0) & (g <= 1))
        corr = np.corrcoef(np.vstack([g, means]))[:10, 10:]    # (samples, class means)
        hits += np.mean(corr.argmax(1) == k) >= 0.5
    assert hits >= 8
