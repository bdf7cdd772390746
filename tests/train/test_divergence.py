"""Loud failures (issue 14, item 5): a non-finite loss stops training with
TrainingDiverged by default and the Checkpoint keeps the last finite state; a loader
yielding no batches is an error."""

from __future__ import annotations

import numpy as np
import pytest
from train_helpers import make_classifier, make_trainer

from chainrule import io
from chainrule.data import ArrayDataset, DataLoader
from chainrule.errors import TrainingDiverged
from chainrule.train import Checkpoint, TerminateOnNaN

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy on NaN/overflow


def _with_nan(blobs, index: int):
    x, y = blobs
    x = x.copy()
    x[index] = np.nan
    return x, y


def test_a_nan_in_the_data_stops_training_loudly(blobs, tmp_path) -> None:
    # 150 samples in order (no shuffling), batch 50: sample 120 is in batch 3 of epoch 1
    trainer = make_trainer(make_classifier())
    ckpt = Checkpoint(tmp_path, every_steps=1)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at epoch 1, batch 3 \(step 3\)"
                       r".*lower learning rate.*NaN") as info:
        trainer.fit(_with_nan(blobs, 120), epochs=3, batch_size=50, shuffle=False,
                    callbacks=[ckpt], verbose=False)
    err = info.value
    assert (err.epoch, err.batch, err.step, err.key) == (0, 2, 3, "loss")
    assert err.checkpoint == str(tmp_path / "checkpoint.npz") and err.checkpoint in str(err)
    assert trainer.global_step == 3  # stopped at once
    saved = io.read_checkpoint(tmp_path / "checkpoint.npz")
    assert saved["training"]["trainer"]["global_step"] == 2  # the last finite state
    assert all(np.isfinite(v).all() for v in saved["model"].values())
    assert ckpt.skipped == 2  # after step 3 and at the end of its epoch


def test_divergence_from_a_huge_learning_rate(blobs) -> None:
    trainer = make_trainer(make_classifier(), lr=1e10)
    with pytest.raises(TrainingDiverged, match="training diverged"):
        trainer.fit(blobs, epochs=20, batch_size=10, verbose=False)


def test_terminate_on_nan_can_be_turned_off_or_kept_quiet(blobs) -> None:
    trainer = make_trainer(make_classifier())
    history = trainer.fit(_with_nan(blobs, 0), epochs=2, batch_size=50, shuffle=False,
                          verbose=False, terminate_on_nan=False)
    assert np.isnan(history["loss"]).all()  # the old behaviour, asked for
    quiet = TerminateOnNaN(raise_error=False)
    trainer = make_trainer(make_classifier())
    trainer.fit(_with_nan(blobs, 60), epochs=2, batch_size=50, shuffle=False,
                verbose=False, callbacks=[quiet])
    assert quiet.stopped is not None and quiet.stopped["step"] == 2
    assert trainer.global_step == 2


def test_a_loader_with_no_batches_is_an_error(blobs) -> None:
    x, y = blobs
    loader = DataLoader(ArrayDataset(x[:10], y[:10]), batch_size=32, drop_last=True)
    trainer = make_trainer(make_classifier())
    with pytest.raises(ValueError, match="yielded no batches"):
        trainer.fit(loader, epochs=1, verbose=False)

    class Empty:
        def __iter__(self):
            return iter(())

    with pytest.raises(ValueError, match="yielded no batches"):
        trainer.fit(Empty(), epochs=2, verbose=False)

    def one_pass():
        yield x[:50], y[:50]

    with pytest.raises(ValueError, match="generator does not"):
        trainer.fit(one_pass(), epochs=2, verbose=False)  # exhausted after epoch 1
