"""Progress within an epoch without tqdm (issue 14, item 8), and a closed output stream
that must not stop training (item 7)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from train_helpers import make_classifier, make_trainer

from chainrule.train import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class BrokenPipe(io.StringIO):
    """An output whose reader went away (``chainrule train | head -1``)."""

    def __init__(self, isatty: bool = False) -> None:
        super().__init__()
        self.writes = 0
        self._tty = isatty

    def isatty(self) -> bool:
        return self._tty

    def write(self, text: str) -> int:
        self.writes += 1
        raise BrokenPipeError(32, "Broken pipe")


def _fit(blobs, bar, epochs=2):
    trainer = make_trainer(make_classifier())
    history = trainer.fit(blobs, epochs=epochs, batch_size=50, verbose=False, callbacks=[bar])
    return trainer, history


def test_a_terminal_gets_one_line_rewritten_in_place(blobs) -> None:
    out = Terminal()
    _fit(blobs, ProgressBar(2, steps=3, use_tqdm=False, stream=out, interval=0))
    text = out.getvalue()
    live = re.findall(r"\r(Epoch \d/2 - \d/3 \(\d+%\) - loss: \d\.\d{4} - accuracy: "
                      r"\d\.\d{4} - [\d.]+ steps/s - ETA \d+s) *", text)
    assert [line.split(" - ")[1] for line in live] == ["1/3 (33%)", "2/3 (66%)", "3/3 (100%)"] * 2
    epoch_lines = [s.strip("\r ") for s in text.split("\n") if s.strip()]
    assert [line.split("\r")[-1].split(" - ")[0] for line in epoch_lines] == ["Epoch 1/2",
                                                                            "Epoch 2/2"]


def test_a_log_file_gets_periodic_lines(blobs) -> None:
    out = io.StringIO()
    _fit(blobs, ProgressBar(2, steps=3, use_tqdm=False, stream=out, interval=0))
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and len(lines) == 2 * (3 + 1)
    assert lines[0].startswith("Epoch 1/2 - 1/3 (33%) - loss: ")
    assert re.match(r"Epoch 1/2 - \d\.\ds - loss", lines[3])
    quiet = io.StringIO()  # the default interval (30 s off a terminal): epoch lines only
    _fit(blobs, ProgressBar(2, steps=3, use_tqdm=False, stream=quiet))
    assert len(quiet.getvalue().splitlines()) == 2


@pytest.mark.parametrize("tty", [False, True])
def test_a_closed_output_does_not_stop_training(blobs, tty) -> None:
    out = BrokenPipe(isatty=tty)
    bar = ProgressBar(3, steps=3, use_tqdm=False, stream=out, interval=0)
    trainer, history = _fit(blobs, bar, epochs=3)
    assert trainer.global_step == 9 and len(history) == 3
    assert bar.closed and out.writes == 1  # gave up after the first failed write
    assert np.isfinite(history["loss"]).all()


def test_stdout_closed_by_the_reader(blobs, monkeypatch) -> None:
    import sys

    monkeypatch.setattr(sys, "stdout", BrokenPipe())
    trainer = make_trainer(make_classifier())
    history = trainer.fit(blobs, epochs=2, batch_size=50, verbose=True)  # the default bar
    assert len(history) == 2 and sys.stdout.writes == 1
