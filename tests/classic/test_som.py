import numpy as np
import pytest

from chainrule.classic import SOM


def test_bmu_and_errors():
    som = SOM(3, 4, 2, seed=0)
    som.weights = np.stack(np.meshgrid(np.arange(3.0), np.arange(4.0), indexing="ij"), -1)
    x = np.array([[0.1, 0.1], [2.0, 2.9]])
    assert som.bmu(x).tolist() == [[0, 0], [2, 3]]
    assert som.winner(x[1]) == (2, 3)
    assert np.isclose(som.quantization_error(x), (np.hypot(0.1, 0.1) + 0.1) / 2)
    assert som.topographic_error(x) == 0.0
    # a point between two non-adjacent units
    som.weights[0, 0] = [5.0, 5.0]
    som.weights[2, 3] = [5.0, 5.1]
    assert som.topographic_error(np.array([[5.0, 5.04]])) == 1.0


def test_u_matrix_shows_border():
    som = SOM(4, 4, 1, seed=0)
    som.weights = np.zeros((4, 4, 1))
    som.weights[:, 2:] = 10
    u = som.u_matrix()
    assert u.shape == (4, 4)
    assert u[:, 1].min() > u[:, 0].max() and u[:, 2].min() > u[:, 3].max()


@pytest.mark.parametrize("mode", ["online", "batch"])
def test_training_orders_colours(mode):
    rng = np.random.default_rng(0)
    x = rng.random((300, 3))
    som = SOM(8, 8, 3, sigma=3.0, seed=0).init_from_data(x)
    u0 = som.u_matrix().mean()
    if mode == "online":
        som.train_online(x, 3000)
    else:
        som.train_batch(x, 15)
    assert som.quantization_error(x) < 0.2
    assert som.topographic_error(x) < 0.2
    # neighbouring units are similar: the U-matrix mean is much smaller than random pairs
    assert som.u_matrix().mean() < 0.4 * u0


def test_vs_minisom_same_schedule():
    pytest.importorskip("minisom")
    from chainrule.classic.som import compare_with_minisom

    x = np.random.default_rng(0).random((400, 3))
    r = compare_with_minisom(x, rows=8, cols=8, n_iterations=4000, sigma=2.0)
    assert r["qe_ours"] <= r["qe_minisom"] * (1 + 1e-9)
    assert r["te_ours"] <= r["te_minisom"] + 1e-12
    assert r["time_ours"] <= r["time_minisom"]


def test_bad_input():
    for shape in [(0, 3, 2), (3, 0, 2), (3, 3, 0)]:
        with pytest.raises(ValueError, match="positive integer"):
            SOM(*shape)
    som = SOM(3, 3, 2, seed=0)
    w = som.weights.copy()
    with pytest.raises(ValueError, match=r"\(n_samples >= 1, 2\)"):
        som.train_online(np.zeros((5, 3)), 10)
    with pytest.raises(ValueError, match="NaN"):
        som.train_batch(np.full((5, 2), np.nan), 2)
    with pytest.raises(ValueError):
        SOM(3, 3, 2, decay="cubic")
    assert np.array_equal(som.weights, w)
