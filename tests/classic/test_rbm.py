
import numpy as np
import pytest

from chainrule.classic import RBM


def _toy(n=600, seed=0):
    """Two prototypes with 5 % bit noise."""
    rng = np.random.default_rng(seed)
    protos = np.zeros((2, 20))
    protos[0, :10] = 1
    protos[1, 10:] = 1
    x = protos[rng.integers(0, 2, n)]
    flip = rng.random(x.shape) < 0.05
    return np.where(flip, 1 - x, x).astype(np.float32), protos


@pytest.mark.parametrize("method,k", [("cd", 1), ("cd", 3), ("pcd", 1)])
def test_training_improves_pll_and_reconstruction(method, k):
    x, _ = _toy()
    rbm = RBM(20, 8, learning_rate=0.05, method=method, k=k,
              momentum=0.5 if method == "cd" else 0.0, seed=0)
    flip = np.random.default_rng(1).integers(0, 20, len(x))
    before = rbm.pseudo_log_likelihood(x, flip=flip).mean()
    rbm.fit(x, epochs=20)
    assert rbm.pseudo_log_likelihood(x, flip=flip).mean() > before + 3
    assert np.mean((rbm.reconstruct(x) > 0.5) != x) < 0.1


def test_shapes_free_energy_and_samples():
    x, protos = _toy()
    rbm = RBM(20, 8, seed=0, weight_decay=1e-4).fit(x, epochs=20)
    assert rbm.transform(x).shape == (600, 8)
    # free energy: data-like vectors are more probable than random ones
    rnd = (np.random.default_rng(0).random((100, 20)) < 0.5).astype(np.float32)
    assert rbm.free_energy(protos).max() < rbm.free_energy(rnd).mean()
    s = rbm.sample(50, gibbs_steps=100)
    assert s.shape == (50, 20)
    # samples look like one of the prototypes
    dist = np.abs((s > 0.5)[:, None, :] - protos[None]).sum(-1).min(1)
    assert np.mean(dist <= 3) > 0.8


def test_free_energy_matches_enumeration():
    rng = np.random.default_rng(0)
    rbm = RBM(4, 3, dtype=np.float64, seed=0)
    rbm.W = rng.normal(0, 1, (4, 3))
    rbm.a, rbm.b = rng.normal(0, 1, 4), rng.normal(0, 1, 3)
    v = rng.integers(0, 2, (5, 4)).astype(float)
    hs = ((np.arange(8)[:, None] >> np.arange(3)) & 1).astype(float)
    f = -np.log(np.exp(v @ rbm.W @ hs.T + (v @ rbm.a)[:, None] + hs @ rbm.b).sum(1))
    assert np.allclose(rbm.free_energy(v), f)


def test_pll_matches_sklearn_definition():
    sk = pytest.importorskip("sklearn.neural_network")
    x, _ = _toy()
    m = sk.BernoulliRBM(n_components=8, n_iter=3, random_state=0).fit(x)
    rbm = RBM(20, 8, dtype=np.float64)
    rbm.W, rbm.a, rbm.b = m.components_.T, m.intercept_visible_, m.intercept_hidden_
    # sklearn flips bit rng.randint(0, n_features, n_samples) with RandomState(random_state)
    flip = np.random.RandomState(0).randint(0, 20, len(x))
    assert np.allclose(rbm.pseudo_log_likelihood(x, flip=flip), m.score_samples(x), atol=1e-4)


def test_bad_input():
    rbm = RBM(20, 8, seed=0)
    w = rbm.W.copy()
    with pytest.raises(ValueError, match=r"\(n_samples, 20\)"):
        rbm.fit(np.zeros((5, 19)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rbm.fit(np.full((5, 20), 2.0))
    with pytest.raises(ValueError):
        RBM(0, 3)
    with pytest.raises(ValueError):
        RBM(3, 3, method="mcmc")
    assert np.array_equal(rbm.W, w)


def test_vs_sklearn_on_mnist(shared_data):
    """As good as scikit-learn's BernoulliRBM on real MNIST (the speed comparison is
    experiments/classic_all.py's, in docs/classic.md: no timing in unit tests)."""
    pytest.importorskip("sklearn")
    from chainrule.classic.rbm import compare_with_sklearn

    r = compare_with_sklearn(n_train=2000, n_hidden=32, epochs=3, data_dir=shared_data)
    assert r["pll_ours"] >= r["pll_sklearn"]
    assert r["model"].W.shape == (784, 32)
