import numpy as np
import pytest

from chainrule.classic import TRIPLETS, BoltzmannMachine, total_variation, triplet_experiment


def test_triplets_reproduced_within_tv_005():
    r = triplet_experiment(n_train=2000, n_hidden=3, epochs=500, n_samples=20000, seed=0)
    assert r["tv_exact"] < 0.05
    assert r["tv_samples"] < 0.05


def test_sampled_learning_close():
    rng = np.random.default_rng(0)
    keys = list(TRIPLETS)
    data = np.array(keys)[rng.choice(3, 1000, p=list(TRIPLETS.values()))]
    bm = BoltzmannMachine(3, 0, seed=0).fit(data, epochs=300, method="sampled",
                                            learning_rate=0.2, n_chains=500, sweeps=2)
    assert total_variation(bm.sample(5000, burn_in=30), TRIPLETS) < 0.1


def test_gibbs_matches_exact_distribution():
    bm = BoltzmannMachine(3, 2, temperature=2.0, seed=1)
    bm.weights *= 10
    states, p = bm.distribution()
    target = {tuple(int(v) for v in s): float(q) for s, q in zip(states, p)}
    assert total_variation(bm.sample(20000, burn_in=50), target) < 0.03


def test_annealing_finds_low_energy():
    bm = BoltzmannMachine(8, 0, seed=2)
    bm.weights *= 20
    s = bm.anneal(np.zeros((50, 8)), t_start=20, t_end=0.05, sweeps=100)
    from chainrule.classic.boltzmann import _all_states
    emin = bm.energy(_all_states(8)).min()
    assert np.mean(np.isclose(bm.energy(s), emin)) > 0.8


def test_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        BoltzmannMachine(3, 1, temperature=0)
    with pytest.raises(ValueError, match="temperature"):
        BoltzmannMachine(3, 1, temperature=-1.0)
    bm = BoltzmannMachine(3, 1, seed=0)
    w = bm.weights.copy()
    with pytest.raises(ValueError, match=r"\(n_samples, 3\)"):
        bm.fit(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        bm.fit(np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="temperature"):
        bm.gibbs(np.zeros((1, 4)), temperature=[1.0, 0.0])
    assert np.array_equal(bm.weights, w)
