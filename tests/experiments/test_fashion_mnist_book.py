"""experiments/fashion_mnist_book.py (issue 20) on a toy set: the book's networks, the
PyTorch twin of the baseline, and seeds added with --append."""

import json

import numpy as np
import pytest


def toy_data(n=640):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, n + 400)
    x = 0.3 * rng.random((n + 400, 784), dtype=np.float32)
    for label in range(10):  # each class lights its own block of pixels
        x[y == label, 78 * label:78 * (label + 1)] += 0.5
    return {"x_train": x[:n], "y_train": y[:n], "x_valid": x[n:n + 200],
            "y_valid": y[n:n + 200], "x_test": x[n + 200:], "y_test": y[n + 200:]}


def test_the_books_networks_have_the_books_sizes(load_experiment):
    m = load_experiment("fashion_mnist_book")
    assert m.mlp().num_parameters() == 266_610
    bn = m.mlp(bn=True, init_name="he_normal")
    buffers = sum(b.size for name, b in bn.named_buffers() if "running" in name)
    assert (bn.num_parameters() + buffers, buffers) == (271_346, 2_368)
    assert m.small().num_parameters() == 99_710  # 784-100-100-100-10


def test_torch_twin_follows_the_baseline_from_the_same_weights(load_experiment):
    pytest.importorskip("torch", reason="the twin is PyTorch")
    m = load_experiment("fashion_mnist_book")
    d = toy_data()
    ours, twin = m.section("baseline", d, 0, 2), m.section("torch", d, 0, 2)
    assert ours["val_curve"][-1] > 0.2  # it learns (chance is 0.1)
    assert np.allclose(ours["val_curve"], twin["val_curve"], atol=0.01)
    assert abs(ours["test_accuracy"] - twin["test_accuracy"]) <= 0.01


def test_append_adds_seeds_and_report_counts_them(load_experiment, tmp_path, monkeypatch,
                                                  capsys):
    m = load_experiment("fashion_mnist_book")
    monkeypatch.setattr(m, "data", toy_data)
    out = str(tmp_path / "r.json")
    assert m.main(["--sections", "baseline", "--seeds", "0", "--epochs", "1", "--out", out]) == 0
    assert m.main(["--sections", "baseline", "--seeds", "1", "--epochs", "1", "--out", out,
                   "--append"]) == 0
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["baseline"]["seeds"] == [0, 1] and len(saved["baseline"]["runs"]) == 2
    capsys.readouterr()
    m.main(["--report", "--out", out])
    assert "| baseline (1 epochs): test accuracy |" in capsys.readouterr().out
    assert "(n=2)" in m.report(saved)[0]
