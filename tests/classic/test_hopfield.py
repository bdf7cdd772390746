import numpy as np
import pytest

from chainrule.classic import Hopfield, capacity_curve, spurious_states


def test_connection_counts():
    assert Hopfield(36).n_connections == 630
    assert Hopfield(784).n_connections == 306_936


def test_weights_symmetric_zero_diagonal():
    rng = np.random.default_rng(0)
    for rule in ("hebb", "storkey"):
        net = Hopfield(50).fit(rng.choice([-1, 1], (5, 50)), rule=rule)
        assert np.allclose(net.weights, net.weights.T)
        assert np.all(np.diag(net.weights) == 0)


@pytest.mark.parametrize("rule", ["hebb", "storkey"])
def test_stored_patterns_are_fixed_points(rule):
    rng = np.random.default_rng(1)
    xi = rng.choice([-1, 1], (5, 100))
    net = Hopfield(100).fit(xi, rule=rule)
    for p in xi:
        traj = net.recall(p, steps=5, seed=0)
        assert len(traj) == 2 and np.array_equal(traj[-1], p)
    assert np.array_equal(net.recall(xi, steps=5, mode="sync")[-1], xi)


def test_binary_encoding_round_trip():
    rng = np.random.default_rng(2)
    xi = rng.integers(0, 2, (3, 64))
    net = Hopfield(64).fit(xi)
    noisy = xi[0].copy()
    noisy[:6] = 1 - noisy[:6]
    out = net.predict(noisy, seed=0)
    assert set(np.unique(out)) <= {0, 1}
    assert np.array_equal(out, xi[0])


def test_energy_never_increases_async():
    rng = np.random.default_rng(3)
    xi = rng.choice([-1, 1], (20, 100))          # overloaded: many spurious minima
    net = Hopfield(100).fit(xi)
    start = rng.choice([-1, 1], (30, 100))
    traj = net.recall(start, steps=30, seed=1)
    e = net.energy(traj.reshape(-1, 100)).reshape(len(traj), 30)
    assert np.all(np.diff(e, axis=0) <= 1e-9)
    # per single-unit flip as well
    s = start[0].astype(float)
    for i in rng.permutation(100):
        e0 = net.energy(s)
        h = net.weights[i] @ s
        s[i] = 1.0 if h > 0 else (-1.0 if h < 0 else s[i])
        assert net.energy(s) <= e0 + 1e-12


def test_corrupted_pattern_restored():
    rng = np.random.default_rng(4)
    xi = rng.choice([-1, 1], (10, 200))
    net = Hopfield(200).fit(xi)
    noisy = xi[3].copy()
    flip = rng.choice(200, 30, replace=False)
    noisy[flip] *= -1
    assert np.array_equal(net.predict(noisy, seed=0), xi[3])


def test_capacity_curve_shape():
    r = capacity_curve(200, np.array([0.05, 0.3]), trials=2, seed=0)
    assert r["success"][0] == 1.0 and r["success"][1] < 0.5


def test_spurious_states_found():
    rng = np.random.default_rng(0)
    xi = rng.choice([-1, 1], (5, 100))
    r = spurious_states(Hopfield(100).fit(xi), xi, n_starts=200, seed=0)
    assert r["distinct_reversed"] > 0 and r["distinct_mixture"] > 0
    assert sum(v for k, v in r.items() if k.startswith("starts_")) == 200


def test_bad_input_no_state_change():
    net = Hopfield(10).fit(np.ones((1, 10)))
    w = net.weights.copy()
    with pytest.raises(ValueError, match="length 10"):
        net.fit(np.ones((2, 9)))
    with pytest.raises(ValueError, match="only"):
        net.fit(np.array([[0, 1, 2, -1, 1, 1, 1, 1, 1, 1]]))
    with pytest.raises(ValueError, match="only"):
        Hopfield(3, encoding="bipolar").fit([[0, 1, 1]])
    with pytest.raises(ValueError):
        net.recall(np.full(10, 0.5))
    with pytest.raises(ValueError):
        Hopfield(0)
    with pytest.raises(ValueError):
        net.fit(np.ones((1, 10)), rule="oja")
    assert np.array_equal(net.weights, w) and net.n_patterns == 1
