"""experiments/california_housing.py (issue 20): the book's Wide & Deep has 1,256
parameters, 17 of them non-trainable (the Normalization's mean, variance and count)."""

import numpy as np


def test_wide_and_deep_summary_counts_as_the_book(load_experiment):
    m = load_experiment("california_housing")
    x = np.random.default_rng(0).normal(size=(200, 8))
    lines = []
    m.build("wide_deep", x).summary((8,), print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: 1,256" in text and "Non-trainable params: 17" in text
    two = m.build("two_inputs", x)
    assert two(x[:4].astype(np.float32)).shape == (4, 1)
    assert m.build("aux", x)(x[:4].astype(np.float32)).shape == (4, 2)


def test_regression_mlp_trains_on_a_toy_table(load_experiment):
    m = load_experiment("california_housing")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 8))
    y = x[:, 0] - 0.5 * x[:, 3] + 0.1 * rng.normal(size=600)
    data = {"x_train": x[:400], "y_train": y[:400], "x_valid": x[400:500],
            "y_valid": y[400:500], "x_test": x[500:], "y_test": y[500:]}
    r = m.run("mlp", 0, data, epochs=5)
    assert r["test_rmse"] < 0.5 * y.std() and r["non_trainable"] == 17


def test_torch_twin_starts_from_the_same_weights_and_batches(load_experiment):
    """The PyTorch twin of the MLP recipe (the evidence for the gap to the book) trains from
    chainrule's initial weights on the same batches: after one epoch on a toy table the
    two runs agree closely (float32, different summation orders)."""
    import pytest

    pytest.importorskip("torch", reason="the twin runs in PyTorch")
    m = load_experiment("california_housing")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(320, 8))
    y = x[:, 0] - 0.5 * x[:, 3] + 0.1 * rng.normal(size=320)
    data = {"x_train": x[:256], "y_train": y[:256], "x_valid": x[256:288],
            "y_valid": y[256:288], "x_test": x[288:], "y_test": y[288:]}
    ours, theirs = m.run("mlp", 3, data, epochs=1), m.torch_twin(3, data, epochs=1)
    assert abs(ours["test_rmse"] - theirs["test_rmse"]) < 1e-4 * ours["test_rmse"]
    assert abs(ours["valid_rmse"] - theirs["valid_rmse"]) < 1e-4 * ours["valid_rmse"]
