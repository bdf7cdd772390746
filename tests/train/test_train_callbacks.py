"""Callbacks: EarlyStopping, ModelCheckpoint, LearningRateScheduler, CSVLogger."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from train_helpers import make_classifier, make_trainer

from chainrule import io, nn, optim
from chainrule.optim import schedules
from chainrule.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    Trainer,
    load_checkpoint,
)

# Training pulls the weight towards y = 2x; the validation data says y = -2x, so the
# validation loss rises every epoch after the first.
X = np.linspace(-1, 1, 32, dtype=np.float32)[:, None]
TRAIN, VAL = (X, 2 * X), (X, -2 * X)


def _regression() -> tuple[nn.Module, Trainer]:
    model = nn.Linear(1, 1)
    model.weight.data[...] = 0.0
    return model, Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1),
                          metrics=[])


class Snapshots(Callback):
    """Copies of the weights after every epoch."""

    def __init__(self) -> None:
        self.states: list[dict[str, np.ndarray]] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.states.append({k: v.copy() for k, v in self.model.state_dict().items()})


def test_early_stopping_restores_the_best_weights() -> None:
    model, trainer = _regression()
    snaps, stopper = Snapshots(), EarlyStopping(patience=2)
    history = trainer.fit(TRAIN, val=VAL, epochs=20, batch_size=8, callbacks=[snaps, stopper],
                          verbose=False, shuffle=False)
    val_loss = history.history["val_loss"]
    assert all(b > a for a, b in zip(val_loss, val_loss[1:]))  # the case is as built
    assert len(history) == 3 and stopper.stopped_epoch == 2 and stopper.best_epoch == 0
    assert stopper.best == val_loss[0]
    assert not np.array_equal(snaps.states[-1]["weight"], snaps.states[0]["weight"])
    for name, value in model.state_dict().items():
        assert np.array_equal(value, snaps.states[0][name]), name


def test_early_stopping_without_restore_keeps_the_last_weights() -> None:
    model, trainer = _regression()
    snaps = Snapshots()
    trainer.fit(TRAIN, val=VAL, epochs=20, callbacks=[snaps, EarlyStopping(
        patience=1, restore_best=False)], verbose=False)
    assert len(snaps.states) == 2
    assert np.array_equal(model.weight.data, snaps.states[-1]["weight"])


def test_early_stopping_modes_and_missing_monitor() -> None:
    assert EarlyStopping("val_accuracy").tracker.mode == "max"
    assert EarlyStopping("val_loss").tracker.mode == "min"
    assert EarlyStopping("val_loss", mode="max").tracker.mode == "max"
    _, trainer = _regression()
    with pytest.raises(ValueError, match="'val_loss' is not in the logs.*pass val="):
        trainer.fit(TRAIN, epochs=2, callbacks=[EarlyStopping()], verbose=False)


def test_model_checkpoint_round_trip(tmp_path, blobs) -> None:
    x, y = blobs
    model = make_classifier(dropout=0.5)
    trainer = make_trainer(model)
    trainer.optimizer = optim.Adam(model.parameters(), lr=0.01)  # state worth saving
    ckpt = ModelCheckpoint(tmp_path / "sub" / "ckpt-{epoch:02d}.npz", save_best_only=False)
    trainer.fit((x, y), val=(x, y), epochs=3, callbacks=[ckpt], verbose=False, seed=0)
    assert [p.rsplit("/", 1)[1] for p in ckpt.saved] == [f"ckpt-0{i}.npz" for i in (1, 2, 3)]

    fresh = make_classifier(dropout=0.5, seed=99)
    fresh_opt = optim.Adam(fresh.parameters(), lr=0.01)
    data = load_checkpoint(ckpt.saved[-1], fresh, fresh_opt)
    assert data["epoch"] == 2 and set(data["logs"]) >= {"loss", "val_loss", "lr"}
    assert np.array_equal(make_trainer(fresh).predict(x), trainer.predict(x))
    saved, loaded = trainer.optimizer.state_dict(), fresh_opt.state_dict()
    for i, state in saved["state"].items():
        for name, value in state.items():
            assert np.array_equal(loaded["state"][i][name], value)
    assert set(io.load(ckpt.saved[0])) == {"model", "optimizer", "epoch", "logs"}


def test_model_checkpoint_saves_only_improvements(tmp_path) -> None:
    _, trainer = _regression()
    ckpt = ModelCheckpoint(tmp_path / "best.npz")  # val_loss rises after epoch 0
    history = trainer.fit(TRAIN, val=VAL, epochs=4, callbacks=[ckpt], verbose=False)
    assert len(ckpt.saved) == 1 and ckpt.tracker.best == history.history["val_loss"][0]
    assert io.load(tmp_path / "best.npz")["epoch"] == 0


def test_csv_logger_writes_one_row_per_epoch(tmp_path, blobs) -> None:
    path = tmp_path / "log.csv"
    history = make_trainer(make_classifier()).fit(
        blobs, val=blobs, epochs=3, callbacks=[CSVLogger(path)], verbose=False)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    for j, key in enumerate(rows[0][1:], start=1):
        assert [float(r[j]) for r in rows[1:]] == history.history[key]  # full precision


def test_csv_logger_append(tmp_path, blobs) -> None:
    path = tmp_path / "log.csv"
    trainer = make_trainer(make_classifier())
    trainer.fit(blobs, epochs=2, callbacks=[CSVLogger(path)], verbose=False)
    trainer.fit(blobs, epochs=1, callbacks=[CSVLogger(path, append=True)], verbose=False)
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("epoch,loss")


def test_lr_scheduler_with_a_function_of_the_epoch(blobs) -> None:
    trainer = make_trainer(make_classifier(), lr=0.1)
    history = trainer.fit(blobs, epochs=3, verbose=False, callbacks=[
        LearningRateScheduler(lambda epoch: 0.1 * 0.5 ** epoch)])
    assert history.history["lr"] == [0.1, 0.05, 0.025]
    assert trainer.optimizer.param_groups[0]["lr"] == 0.025


def test_lr_scheduler_with_a_keras_style_function(blobs) -> None:
    trainer = make_trainer(make_classifier(), lr=0.1)
    trainer.fit(blobs, epochs=3, verbose=False,
                callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.1)])
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)


def test_lr_scheduler_with_a_schedule_object_per_epoch(blobs) -> None:
    trainer = make_trainer(make_classifier(), lr=0.1)
    decay = schedules.StepDecay(trainer.optimizer, step_size=1, gamma=0.5)
    history = trainer.fit(blobs, epochs=3, verbose=False,
                          callbacks=[LearningRateScheduler(decay)])
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.0125)


def test_lr_scheduler_with_a_schedule_object_per_batch(blobs) -> None:
    trainer = make_trainer(make_classifier(), lr=0.1)
    decay = schedules.StepDecay(trainer.optimizer, step_size=1, gamma=0.9)
    trainer.fit(blobs, epochs=2, batch_size=50, verbose=False,
                callbacks=[LearningRateScheduler(decay, per_batch=True)])
    assert decay.last_step == 6  # 3 batches x 2 epochs
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.9 ** 6)


def test_lr_scheduler_feeds_the_monitored_value_to_plateau_schedules(blobs) -> None:
    trainer = make_trainer(make_classifier(), lr=0.1)
    seen: list[float] = []

    class Plateau:
        def step(self, metric: float) -> None:
            seen.append(metric)

    history = trainer.fit(blobs, val=blobs, epochs=2, verbose=False,
                          callbacks=[LearningRateScheduler(Plateau())])
    assert seen == history.history["val_loss"]
    plateau = schedules.ReduceLROnPlateau(trainer.optimizer, factor=0.5, patience=0)
    trainer.fit(blobs, val=blobs, epochs=2, verbose=False,
                callbacks=[LearningRateScheduler(plateau, monitor="loss")])
    assert plateau.last_step == 2


def test_lr_scheduler_rejects_bad_schedules() -> None:
    with pytest.raises(TypeError, match="schedule"):
        LearningRateScheduler(0.1)
    with pytest.raises(ValueError, match="per_batch"):
        LearningRateScheduler(lambda e: 0.1, per_batch=True)
    trainer = make_trainer(make_classifier())
    with pytest.raises(ValueError, match="lr=-1"):
        trainer.fit((np.zeros((2, 4), np.float32), np.zeros(2, np.int64)), verbose=False,
                    callbacks=[LearningRateScheduler(lambda e: -1.0)])


def test_lambda_callback_sees_every_hook(blobs) -> None:
    calls: list[str] = []
    hooks = {name: (lambda *a, name=name: calls.append(name)) for name in (
        "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
        "on_batch_begin", "on_batch_end")}
    make_trainer(make_classifier()).fit(blobs, epochs=1, batch_size=100, verbose=False,
                                        callbacks=[LambdaCallback(**hooks)])
    assert calls == ["on_train_begin", "on_epoch_begin", "on_batch_begin", "on_batch_end",
                     "on_batch_begin", "on_batch_end", "on_epoch_end", "on_train_end"]
    with pytest.raises(TypeError, match="unknown hook"):
        LambdaCallback(on_step=print)
