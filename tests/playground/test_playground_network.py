"""The playground's data, settings and training sessions (no server needed)."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from chainrule import Tensor
from chainrule.playground.datasets import DATASETS, FEATURES, features, make_dataset, split
from chainrule.playground.errors import PlaygroundInputError
from chainrule.playground.network import GRID, Session, Settings


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_datasets_are_two_balanced_classes_in_the_square(name):
    x, y = make_dataset(name, n=400, noise=0.1, seed=3)
    assert x.shape == (400, 2) and y.shape == (400,)
    assert set(np.unique(y)) == {0.0, 1.0}
    assert 0.3 < y.mean() < 0.7
    assert np.abs(x).max() < 8
    again, _ = make_dataset(name, n=400, noise=0.1, seed=3)
    np.testing.assert_array_equal(x, again)


def test_xor_labels_follow_the_quadrants():
    x, y = make_dataset("xor", n=300, noise=0.0)
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] > 0).astype(float))


def test_split_and_features():
    x, y = make_dataset("circle", n=100)
    xtr, ytr, xte, yte = split(x, y, 0.7)
    assert len(xtr) == 70 and len(xte) == 30
    f = features(xtr, list(FEATURES))
    np.testing.assert_allclose(f[:, 4], xtr[:, 0] * xtr[:, 1])
    np.testing.assert_allclose(f[:, 5], np.sin(xtr[:, 0]))


@pytest.mark.parametrize("change, words", [
    ({"hidden": [4, 0]}, "units of hidden layer 2"),
    ({"lr": -1}, "learning rate"),
    ({"lr": "fast"}, "learning rate"),
    ({"features": []}, "features"),
    ({"features": ["x3"]}, "features"),
    ({"dataset": "moons"}, "dataset"),
    ({"batch_size": 2.5}, "batch size"),
    ({"noise": float("nan")}, "noise"),
    ({"activation": "softmax"}, "activation"),
    ({"colour": "red"}, "unknown setting"),
])
def test_bad_settings_raise_a_message_naming_the_control(change, words):
    with pytest.raises(PlaygroundInputError, match=words):
        Settings.from_json(change)


def test_xor_4_4_tanh_trains_below_0_1_test_loss():
    s = Session(Settings.from_json({"dataset": "xor", "hidden": [4, 4], "activation": "tanh",
                                    "optimizer": "adam", "lr": 0.03}))
    first = s.losses()[1]
    for _ in range(30):
        s.train_epoch()
    assert first > 0.5
    assert s.losses()[1] < 0.1
    assert s.epoch == 30


def test_regularization_shrinks_the_weights():
    def norm(reg):
        s = Session(Settings.from_json({"dataset": "gaussians", "points": 200,
                                        "regularization": reg,
                                        "reg_rate": 0.05 if reg != "none" else 0.0}))
        for _ in range(10):
            s.train_epoch()
        return sum(float(np.abs(layer.weight.numpy()).sum()) for layer in s.layers)

    plain = norm("none")
    assert norm("l1") < plain and norm("l2") < plain


def test_frame_has_a_map_for_every_feature_neuron_and_the_output():
    s = Session(Settings.from_json({"features": ["x1", "x2", "x1*x2"], "hidden": [3, 2]}))
    frame = s.frame()
    assert [len(col) for col in frame["maps"]] == [3, 3, 2, 1]
    assert [np.shape(w) for w in frame["weights"]] == [(3, 3), (2, 3), (1, 2)]
    raw = np.frombuffer(base64.b64decode(frame["maps"][3][0]), np.uint8)
    assert raw.size == GRID * GRID
    # the output map is 2 sigmoid - 1 of the logits over the grid
    logits = s._forward(Tensor(s.f_grid))[0].numpy()[:, 0]
    expected = np.rint((np.tanh(logits / 2) + 1) * 127.5)
    np.testing.assert_array_equal(raw, expected.astype(np.uint8))


def test_advance_with_a_budget_continues_the_epoch():
    s = Session(Settings.from_json({"points": 200, "batch_size": 10}))
    s.advance(0.0)  # one batch
    assert s.epoch == 0 and s.epoch_progress() == pytest.approx(10 / 100)
    s.train_epoch()
    assert s.epoch == 1 and s.epoch_progress() == 1.0


def test_sessions_are_independent_and_leave_the_global_rng_alone():
    from chainrule import random as cr_random

    state = cr_random.get_rng().bit_generator.state
    a, b = Session(), Session()
    assert cr_random.get_rng().bit_generator.state == state
    before = b.layers[0].weight.numpy().copy()
    np.testing.assert_array_equal(a.layers[0].weight.numpy(), before)  # same seed
    a.train_epoch()
    np.testing.assert_array_equal(b.layers[0].weight.numpy(), before)
    assert not np.array_equal(a.layers[0].weight.numpy(), before)


def test_sessions_in_threads_train_while_others_draw():
    # a frame drawn (under no_grad) in one thread must not turn off the graph of a training
    # step in another (it did while grad mode was process-wide: "backward() on a tensor that
    # does not require grad"); grad mode is per thread, and the sessions no longer take
    # turns on one lock.
    import threading

    drawing, training = Session(), Session(Settings.from_json({"batch_size": 1}))
    errors, done = [], threading.Event()

    def draw():
        try:
            while not done.is_set():
                drawing.frame()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=draw)
    thread.start()
    try:
        for _ in range(3):
            training.train_epoch()
    except RuntimeError as exc:
        errors.append(exc)
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert training.epoch == 3


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_a_neurons_expression_computes_its_output(activation):
    from chainrule import no_grad
    from chainrule.playground.backprop import explain, parse_values

    s = Session(Settings.from_json({"features": ["x1", "x2", "x1*x2", "sin(x1)"],
                                    "hidden": [3, 2], "activation": activation}))
    s.train_epoch()
    with no_grad():
        _, outputs = s._forward(Tensor(s.f_train[:1]), keep=True)
    for column, unit in [(1, 0), (2, 1), (3, 0)]:
        n = s.neuron(column, unit)
        got = explain(n["expression"], parse_values(n["values"]))["output"]
        out = outputs[column - 1].numpy()[0, unit]
        if column == 3:
            out = 1 / (1 + np.exp(-out))  # the output neuron: the probability of class 1
        if activation == "relu" and column < 3:  # the expression is relu's input z
            assert "relu" in n["note"]
            assert got == pytest.approx(out, rel=1e-4, abs=1e-5) if out > 0 else got <= 1e-5
        else:
            assert got == pytest.approx(out, rel=1e-4, abs=1e-5)
    with pytest.raises(PlaygroundInputError, match="no neuron"):
        s.neuron(1, 3)
