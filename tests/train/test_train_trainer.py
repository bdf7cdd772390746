"""Trainer: fit/evaluate/predict, history, determinism, data forms, regularizers."""

from __future__ import annotations

import numpy as np
import pytest
from train_helpers import make_classifier, make_trainer

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import ArrayDataset, DataLoader
from chainrule.random import manual_seed
from chainrule.train import History, LambdaCallback, Trainer


def test_history_keys_and_lengths(blobs) -> None:
    x, y = blobs
    trainer = make_trainer(make_classifier())
    history = trainer.fit((x[:100], y[:100]), val=(x[100:], y[100:]), epochs=3,
                          batch_size=16, seed=0, verbose=False)
    assert isinstance(history, History) and history is trainer.history
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr",
                                     "time"]
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert history.history["lr"] == [0.05] * 3
    assert all(t > 0 for t in history.history["time"])
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_without_validation_there_are_no_val_keys(blobs) -> None:
    history = make_trainer(make_classifier()).fit(blobs, epochs=2, verbose=False)
    assert set(history.history) == {"loss", "accuracy", "lr", "time"}


def _run(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[dict, dict]:
    model = make_classifier(seed=0)  # same initial weights each time
    history = make_trainer(model).fit((x, y), val=(x[:30], y[:30]), epochs=3, batch_size=8,
                                      seed=seed, verbose=False)
    logs = {k: v for k, v in history.history.items() if k != "time"}
    return {k: v.copy() for k, v in model.state_dict().items()}, logs


def test_same_seed_gives_bitwise_identical_runs(blobs) -> None:
    x, y = blobs
    weights_a, logs_a = _run(x, y, seed=7)
    manual_seed(123)  # whatever happened to the library RNG in between
    np.random.default_rng().random(10)
    weights_b, logs_b = _run(x, y, seed=7)
    assert logs_a == logs_b
    for name in weights_a:
        assert np.array_equal(weights_a[name], weights_b[name]), name
    weights_c, _ = _run(x, y, seed=8)  # dropout masks and shuffling depend on the seed
    assert not all(np.array_equal(weights_a[k], weights_c[k]) for k in weights_a)


def test_fit_accepts_a_dataset_and_a_dataloader(blobs) -> None:
    x, y = blobs
    trainer = make_trainer(make_classifier())
    trainer.fit(ArrayDataset(x, y), epochs=1, batch_size=50, verbose=False)
    batches = []
    loader = DataLoader(ArrayDataset(x, y), batch_size=40, shuffle=True, seed=0)
    trainer.fit(loader, epochs=1, verbose=False,
                callbacks=[LambdaCallback(on_batch_end=lambda b, logs: batches.append(logs))])
    assert [b["size"] for b in batches] == [40, 40, 40, 30]  # the loader's own batch size


def test_evaluate_is_weighted_by_batch_size_and_matches_a_hand_computation(blobs) -> None:
    x, y = blobs
    model = make_classifier()
    trainer = make_trainer(model)
    trainer.fit((x, y), epochs=2, verbose=False, seed=0)
    small, large = trainer.evaluate((x, y), batch_size=7), trainer.evaluate((x, y), 1000)
    assert small["loss"] == pytest.approx(large["loss"], rel=1e-6)
    assert small["accuracy"] == large["accuracy"]
    model.eval()
    with cr.no_grad():
        logits = model(cr.tensor(x))
        loss = nn.CrossEntropyLoss()(logits, y).item()
    assert large["loss"] == pytest.approx(loss, rel=1e-6)
    assert large["accuracy"] == np.mean(np.argmax(logits.data, axis=1) == y)


def test_predict_shape_eval_mode_and_modes_restored(blobs) -> None:
    x, _ = blobs
    model = make_classifier(dropout=0.5)
    trainer = make_trainer(model)
    model.train()
    a, b = trainer.predict(x, batch_size=32), trainer.predict(x[:, None, :].reshape(150, 4))
    assert a.shape == (150, 3) and isinstance(a, np.ndarray)
    assert np.array_equal(a, b)  # dropout is off at prediction time
    assert all(m.training for m in model.modules())  # the previous mode is back
    assert trainer.predict(ArrayDataset(x), batch_size=64).shape == (150, 3)


def test_stop_training_from_a_callback_ends_fit(blobs) -> None:
    trainer = make_trainer(make_classifier())

    def stop(batch: int, logs: dict) -> None:
        trainer.stop_training = True

    history = trainer.fit(blobs, epochs=5, batch_size=10, verbose=False,
                          callbacks=[LambdaCallback(on_batch_end=stop)])
    assert len(history) == 1


def test_regularizer_is_added_to_the_loss_and_constraints_hold(blobs) -> None:
    x, y = blobs
    model = make_classifier(dropout=0.0)
    plain = make_trainer(model).evaluate((x, y))["loss"]
    penalised = make_trainer(model, regularizer=lambda m: cr.tensor(10.0)).evaluate((x, y))
    assert penalised["loss"] == pytest.approx(plain + 10.0, rel=1e-6)

    trainer = make_trainer(model, lr=0.5, regularizer=lambda m: nn.l2_penalty(m, 1e-3),
                           constraints=[lambda m: nn.max_norm_(m, 0.5)])
    trainer.fit((x, y), epochs=2, verbose=False)
    norms = np.linalg.norm(model[0].weight.data, axis=1)
    assert np.all(norms <= 0.5 + 1e-6)


def test_learns_digits(digits) -> None:
    manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=3e-3),
                      metrics=["accuracy"])
    trainer.fit(digits["train"], epochs=4, batch_size=32, seed=0, verbose=False)
    assert trainer.evaluate(digits["test"])["accuracy"] > 0.9


def test_regression_with_mae_and_rmse() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + rng.normal(scale=0.3, size=(64, 1))  # float64
    manual_seed(0)
    model = nn.Linear(3, 1)
    trainer = Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1),
                      metrics=["mae", "rmse"])
    history = trainer.fit((x, y), epochs=20, batch_size=10, verbose=False, seed=0)
    assert history.history["rmse"][-1] < 0.25 * history.history["rmse"][0]
    result = trainer.evaluate((x, y), batch_size=9)
    assert result["rmse"] == pytest.approx(np.sqrt(result["loss"]), rel=1e-5)


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"batch_size": 0}, {"epochs": 1.5}])
def test_bad_arguments_raise(blobs, kwargs) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        make_trainer(make_classifier()).fit(blobs, verbose=False, **kwargs)


def test_bad_data_raises(blobs) -> None:
    trainer = make_trainer(make_classifier())
    with pytest.raises(ValueError, match=r"\(x, y\)"):
        trainer.fit((blobs[0],), verbose=False)
    with pytest.raises(TypeError, match="Dataset or a DataLoader"):
        trainer.fit(42, verbose=False)
