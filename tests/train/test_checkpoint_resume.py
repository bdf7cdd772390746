"""Checkpoint + fit(resume_from=...): an interrupted, resumed run ends bit-identical to an
uninterrupted one (issue 14, item 1), for an MLP (dropout, shuffling, a schedule), the
char-LSTM's TBPTTTrainer and the GAN, interrupted at an epoch's end and within an epoch."""

from __future__ import annotations

import functools
import os
import signal

import numpy as np
import pytest
from train_helpers import make_classifier

from chainrule import nn, optim
from chainrule.errors import CheckpointError, TrainingInterrupted
from chainrule.train import (
    BestModel,
    Budget,
    Callback,
    Checkpoint,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    PeriodicEvaluation,
    TBPTTTrainer,
    Trainer,
    fit_gan,
    read_training_checkpoint,
)


class SignalAt(Callback):
    """Sends ``signum`` to this process after training step ``step`` (1-based), or at the
    end of epoch ``-step`` (1-based) when ``step`` is negative."""

    def __init__(self, step: int, signum: int = signal.SIGINT) -> None:
        self.step, self.signum = step, signum

    def on_batch_end(self, batch, logs=None) -> None:
        if self.trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)

    def on_epoch_end(self, epoch, logs=None) -> None:
        if epoch + 1 == -self.step:
            os.kill(os.getpid(), self.signum)


def _flat(tree, prefix=""):
    """{path: array} of a nested state (dicts, lists, tuples, arrays, numbers)."""
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(_flat(v, f"{prefix}/{k}"))
        return out
    if isinstance(tree, list | tuple):
        out = {}
        for i, v in enumerate(tree):
            out.update(_flat(v, f"{prefix}/{i}"))
        return out
    return {prefix: np.asarray(tree)}


def assert_identical(a, b) -> None:
    fa, fb = _flat(a), _flat(b)
    assert fa.keys() == fb.keys()
    for key in fa:
        assert fa[key].dtype == fb[key].dtype, key
        np.testing.assert_array_equal(fa[key], fb[key], err_msg=key)


def _history(h):
    return {k: v for k, v in h.history.items() if k != "time"}


def _full_cut_resumed(run, tmp_path, interrupt):
    """``run(directory, interrupt=None, resume=False)`` uninterrupted, interrupted (the
    TrainingInterrupted is returned) and resumed."""
    full = run(tmp_path / "full")
    with pytest.raises(TrainingInterrupted) as info:
        run(tmp_path / "cut", interrupt=interrupt)
    return full, info.value, run(tmp_path / "cut", resume=True)


# --------------------------------------------------------------------------- MLP


def _mlp_run(blobs, directory, interrupt=None, resume=False, epochs=3):
    model = make_classifier()
    opt = optim.Adam(model.parameters(), lr=0.02)
    schedule = optim.schedules.ExponentialDecay(opt, final_lr=0.002, total_steps=12)
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt)
    callbacks = [LearningRateScheduler(schedule, per_batch=True),
                 EarlyStopping("val_loss", patience=5),
                 CSVLogger(directory / "history.csv"), Checkpoint(directory)]
    if interrupt is not None:
        callbacks.append(SignalAt(*interrupt))
    history = trainer.fit(blobs, val=blobs, epochs=epochs, batch_size=32, seed=3,
                          callbacks=callbacks, verbose=False,
                          resume_from=directory if resume else None)
    return trainer, history


@pytest.mark.parametrize("interrupt", [(-1, signal.SIGINT), (7, signal.SIGTERM),
                                       (5, signal.SIGINT)],
                         ids=["epoch-end-sigint", "mid-epoch-sigterm", "last-batch-sigint"])
def test_mlp_interrupted_and_resumed_is_bit_identical(blobs, tmp_path, interrupt) -> None:
    # 150 samples / 32 = 5 batches per epoch: step 5 ends epoch 1, step 7 is inside epoch 2
    full, full_history = _mlp_run(blobs, tmp_path / "full")
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(TrainingInterrupted) as info:
        _mlp_run(blobs, tmp_path / "cut", interrupt=interrupt)
    assert {s: signal.getsignal(s) for s in before} == before  # handlers put back
    assert info.value.signum == interrupt[1]
    assert info.value.checkpoint == str(tmp_path / "cut" / "checkpoint.npz")
    ckpt = read_training_checkpoint(tmp_path / "cut")
    assert ckpt["training"]["trainer"]["global_step"] == abs(interrupt[0]) * (
        5 if interrupt[0] < 0 else 1)
    resumed, history = _mlp_run(blobs, tmp_path / "cut", resume=True)
    assert resumed.global_step == full.global_step == 15
    assert_identical(resumed.model.state_dict(), full.model.state_dict())
    assert_identical(resumed.optimizer.state_dict(), full.optimizer.state_dict())
    assert _history(history) == _history(full_history) and history.epoch == [0, 1, 2]
    csv_full = (tmp_path / "full" / "history.csv").read_text().splitlines()
    csv_cut = (tmp_path / "cut" / "history.csv").read_text().splitlines()
    assert len(csv_cut) == 4 and csv_cut[0] == csv_full[0]
    strip_time = [[c for i, c in enumerate(r.split(",")) if i != csv_full[0].split(",").index(
        "time")] for r in csv_full[1:]]
    assert strip_time == [[c for i, c in enumerate(r.split(",")) if i != csv_full[0].split(
        ",").index("time")] for r in csv_cut[1:]]


def test_resume_continues_with_more_epochs(blobs, tmp_path) -> None:
    full, full_history = _mlp_run(blobs, tmp_path / "full", epochs=3)
    _mlp_run(blobs, tmp_path / "two", epochs=2)
    more, history = _mlp_run(blobs, tmp_path / "two", resume=True, epochs=3)
    assert_identical(more.model.state_dict(), full.model.state_dict())
    assert _history(history) == _history(full_history)


def test_a_run_its_step_budget_ended_goes_on_with_a_larger_budget(blobs, tmp_path) -> None:
    """Resuming a run a Budget stopped continues when the new budget is larger, and trains
    nothing when it is the same (it stopped for good before: 0 steps either way)."""
    def run(steps, resume=False):
        model = make_classifier()
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), 0.02))
        budget = Budget(steps=steps)
        trainer.fit(blobs, epochs=10, batch_size=32, seed=3, verbose=False,
                    callbacks=[budget, Checkpoint(tmp_path)],
                    resume_from=tmp_path if resume else None)
        return trainer, budget

    first, _ = run(3)
    assert first.global_step == 3
    same, budget = run(3, resume=True)
    assert same.global_step == 3 and budget.steps_done == 3
    more, budget = run(12, resume=True)
    assert more.global_step == 12 and budget.steps_done == 12
    assert not np.array_equal(more.model.state_dict()["0.weight"],
                              first.model.state_dict()["0.weight"])


def test_checkpoint_every_steps_and_plain_model_file(blobs, tmp_path) -> None:
    model = make_classifier()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    ckpt = Checkpoint(tmp_path, every_steps=2)
    trainer.fit(blobs, epochs=2, batch_size=32, seed=0, callbacks=[ckpt], verbose=False)
    assert ckpt.saves == 5 + 2  # after steps 2, 4, 6, 8, 10, and at both epochs' ends
    from chainrule import io

    data = io.read_checkpoint(tmp_path / "checkpoint.npz")  # also an ordinary checkpoint
    assert_identical(data["model"], model.state_dict())


def test_resume_errors(blobs, tmp_path) -> None:
    model = make_classifier()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(FileNotFoundError, match="nothing to resume from"):
        trainer.fit(blobs, resume_from=tmp_path / "none.npz", verbose=False)
    from chainrule import io

    io.write_checkpoint(tmp_path / "m.npz", model)
    with pytest.raises(CheckpointError, match="without training state"):
        trainer.fit(blobs, resume_from=tmp_path / "m.npz", verbose=False)


# --------------------------------------------------------------------------- char-LSTM


def _charlm_run(directory, interrupt=None, resume=False):
    from chainrule.models.charlm import CharLSTM, StreamBatcher, evaluate
    from chainrule.random import manual_seed

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 7, size=700)
    manual_seed(1)
    model = CharLSTM(7, hidden=8, layers=2, embed=4, dropout=0.2)
    batcher = StreamBatcher(ids[:600], batch=4, seq=10, rng=np.random.default_rng(1))
    check = PeriodicEvaluation(4, lambda m: {"val_loss": evaluate(m, ids[600:], batch=2, seq=10)})
    callbacks = [check, BestModel("val_loss"), Budget(steps=30),
                 LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr * 0.9),
                 Checkpoint(directory)]
    if interrupt is not None:
        callbacks.append(SignalAt(interrupt))
    trainer = TBPTTTrainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), 0.01),
                           clip=1.0)
    trainer.fit(batcher, epochs=None, callbacks=callbacks, verbose=False,
                resume_from=directory if resume else None)
    return trainer, check


@pytest.mark.parametrize("step", [-1, 19], ids=["epoch-end", "mid-epoch"])
def test_char_lstm_tbptt_interrupted_and_resumed_is_bit_identical(tmp_path, step) -> None:
    # len(batcher) = 14 steps per epoch; the Budget ends training after 30 steps
    (full, full_check), _, (resumed, check) = _full_cut_resumed(_charlm_run, tmp_path, step)
    assert resumed.global_step == full.global_step == 30
    assert_identical(resumed.model.state_dict(), full.model.state_dict())
    assert_identical(resumed.optimizer.state_dict(), full.optimizer.state_dict())
    keys = ("step", "train_loss", "val_loss")
    assert {k: check.history[k] for k in keys} == {k: full_check.history[k] for k in keys}


# --------------------------------------------------------------------------- GAN


def _gan_run(directory, interrupt=None, resume=False, method=False):
    from chainrule.models import GAN, dense_discriminator, dense_generator
    from chainrule.random import manual_seed

    x = np.random.default_rng(0).uniform(-1, 1, size=(40, 6)).astype(np.float32)
    manual_seed(2)
    gan = GAN(dense_generator(latent_size=3, hidden=(8,), image_shape=(6,)),
              dense_discriminator(image_shape=(6,), hidden=(8,), dropout=0.2))
    callbacks = [Checkpoint(directory)] + ([SignalAt(interrupt)] if interrupt else [])
    fit = gan.fit if method else functools.partial(fit_gan, gan)
    history = fit(x, epochs=3, batch_size=16, seed=4, callbacks=callbacks, verbose=False,
                  resume_from=directory if resume else None)
    return gan, history


@pytest.mark.parametrize("step", [-1, 3], ids=["epoch-end", "mid-epoch"])
def test_gan_interrupted_and_resumed_is_bit_identical(tmp_path, step) -> None:
    # 40 samples, batch 16, the last partial batch dropped: 2 steps per epoch
    (full, full_history), _, (resumed, history) = _full_cut_resumed(_gan_run, tmp_path, step)
    saved = read_training_checkpoint(tmp_path / "cut")["model"]
    assert {"g_optimizer", "d_optimizer"} <= set(saved)  # the GAN's own optimizers
    assert_identical(resumed.state_dict(), full.state_dict())
    assert _history(history) == _history(full_history) and len(history) == 3


def test_gan_fit_method_resumes_too(tmp_path) -> None:
    """GAN.fit passes resume_from (and terminate_on_nan) on to fit_gan."""
    run = functools.partial(_gan_run, method=True)
    (full, full_history), _, (resumed, history) = _full_cut_resumed(run, tmp_path, 3)
    assert_identical(resumed.state_dict(), full.state_dict())
    assert _history(history) == _history(full_history)


# --------------------------------------------------------------------------- signals


def test_without_a_checkpoint_signals_are_left_alone(blobs) -> None:
    seen = {}

    class Look(Callback):
        def on_batch_end(self, batch, logs=None) -> None:
            seen[batch] = signal.getsignal(signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    model = make_classifier()
    Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1)).fit(
        blobs, epochs=1, batch_size=50, callbacks=[Look()], verbose=False)
    assert set(seen.values()) == {before}


def test_a_second_signal_stops_at_once(blobs, tmp_path) -> None:
    class Twice(Callback):
        def on_batch_end(self, batch, logs=None) -> None:
            if self.trainer.global_step == 2:
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)  # raises here, inside the step's hooks

    model = make_classifier()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TrainingInterrupted, match="no checkpoint") as info:
        trainer.fit(blobs, epochs=2, batch_size=50, callbacks=[Twice(), Checkpoint(tmp_path)],
                    verbose=False)
    assert info.value.checkpoint is None and not (tmp_path / "checkpoint.npz").exists()


def test_checkpoint_every_minutes(blobs, tmp_path) -> None:
    model = make_classifier()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    ckpt = Checkpoint(tmp_path, every_minutes=1e-9)  # due after every step
    trainer.fit(blobs, epochs=1, batch_size=50, callbacks=[ckpt], verbose=False)
    assert ckpt.saves == 4  # after steps 1, 2, 3, and at the epoch's end (with its logs)
    with pytest.raises(ValueError, match="every_steps"):
        Checkpoint(tmp_path, every_steps=0)


def test_best_model_copies_a_gans_nested_state(tmp_path) -> None:
    from chainrule.models import GAN, dense_discriminator, dense_generator

    x = np.random.default_rng(0).uniform(-1, 1, size=(32, 6)).astype(np.float32)
    gan = GAN(dense_generator(latent_size=3, hidden=(8,), image_shape=(6,)),
              dense_discriminator(image_shape=(6,), hidden=(8,)))
    scores = iter([1.0, 0.5, 2.0, 3.0])  # the second validation is the best

    class Score(Callback):
        def on_epoch_end(self, epoch, logs=None) -> None:
            self.trainer.callbacks.on_evaluate({"val_loss": next(scores)})

    best = BestModel("val_loss")
    fit_gan(gan, x, epochs=4, batch_size=32, seed=0, verbose=False, callbacks=[Score(), best])
    assert best.best == 0.5
    assert_identical(gan.state_dict(), best.best_state)  # restored at the end


def test_resume_refuses_other_batches_per_epoch(blobs, tmp_path) -> None:
    _mlp_run(blobs, tmp_path, epochs=1)
    model = make_classifier()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.02))
    with pytest.raises(CheckpointError, match="5 batches per epoch, this fit has 3"):
        trainer.fit(blobs, epochs=2, batch_size=50, resume_from=tmp_path, verbose=False)


def test_fit_with_a_checkpoint_in_another_thread(blobs, tmp_path) -> None:
    import threading

    errors = []

    def work() -> None:
        try:
            _mlp_run(blobs, tmp_path, epochs=1)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == [] and (tmp_path / "checkpoint.npz").is_file()


_SCRIPT = '''
import sys, time
from pathlib import Path
import numpy as np
from chainrule import nn, optim
from chainrule.errors import TrainingInterrupted
from chainrule.random import manual_seed
from chainrule.train import Callback, Checkpoint, Trainer

run, mode = Path(sys.argv[1]), sys.argv[2]

class Slow(Callback):  # tells the test it may signal, then leaves it time to do so
    def on_batch_end(self, batch, logs=None):
        if self.trainer.global_step == 3:
            (run / "ready").write_text("")
        if self.trainer.global_step >= 3:
            time.sleep(0.05)

rng = np.random.default_rng(0)
x = rng.normal(size=(60, 4)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int64)
manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2))
trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01))
callbacks = [Checkpoint(run)] + ([Slow()] if mode == "signal" else [])
try:
    trainer.fit((x, y), epochs=10, batch_size=8, seed=1, verbose=False, callbacks=callbacks,
                resume_from=run if mode == "resume" else None)
except TrainingInterrupted as exc:
    print(exc.checkpoint)
    sys.exit(130)
np.savez(run / "final.npz", **model.state_dict())
'''


def test_a_sigterm_from_outside_saves_and_the_run_resumes(tmp_path) -> None:
    import subprocess
    import sys
    import time

    script = tmp_path / "train.py"
    script.write_text(_SCRIPT)
    full, cut = tmp_path / "full", tmp_path / "cut"
    full.mkdir(), cut.mkdir()
    subprocess.run([sys.executable, str(script), str(full), "plain"], check=True)
    child = subprocess.Popen([sys.executable, str(script), str(cut), "signal"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (cut / "ready").exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    child.send_signal(signal.SIGTERM)  # (SIGINT: the in-process tests above)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert out.strip() == str(cut / "checkpoint.npz") and "saving a checkpoint" in err
    assert not (cut / "final.npz").exists()
    subprocess.run([sys.executable, str(script), str(cut), "resume"], check=True)
    with np.load(full / "final.npz") as a, np.load(cut / "final.npz") as b:
        assert_identical(dict(a), dict(b))


def test_an_unusable_checkpoint_directory_fails_before_training(blobs, tmp_path) -> None:
    (tmp_path / "file").write_text("in the way")
    model = make_classifier()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    before = model.state_dict()["0.weight"].copy()
    with pytest.raises(OSError, match=r"Checkpoint: cannot create the directory .*file"):
        trainer.fit(blobs, epochs=1, callbacks=[Checkpoint(tmp_path / "file" / "run")],
                    verbose=False)
    assert trainer.global_step == 0
    np.testing.assert_array_equal(model.state_dict()["0.weight"], before)
