"""Progress display (plain lines and tqdm), history plots, and the model factory."""

from __future__ import annotations

import io
import re
import sys
import types
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from train_helpers import make_classifier, make_trainer

from chainrule.models import MODELS, build_model
from chainrule.train import History, ProgressBar, plot_history
from chainrule.train.progress import tqdm_available

LINE = re.compile(r"^Epoch (\d)/2 - \d+\.\ds - loss: \d\.\d{4} - accuracy: \d\.\d{4} - "
                  r"val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}$")


def test_plain_progress_prints_one_keras_line_per_epoch(blobs, capsys) -> None:
    make_trainer(make_classifier()).fit(blobs, val=blobs, epochs=2, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert [LINE.match(line).group(1) for line in lines] == ["1", "2"]


def test_verbose_false_prints_nothing(blobs, capsys) -> None:
    make_trainer(make_classifier()).fit(blobs, val=blobs, epochs=2, verbose=False)
    assert capsys.readouterr() == ("", "")


def test_tqdm_only_on_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert ProgressBar(3).use_tqdm is False
    monkeypatch.setitem(sys.modules, "tqdm", None)  # tqdm not installed
    assert tqdm_available() is False
    assert ProgressBar(3).use_tqdm is False


class FakeBar:
    """Records what the progress callback asks of a tqdm bar."""

    made: list[FakeBar] = []

    def __init__(self, total=None, desc="", **kwargs) -> None:
        self.total, self.desc, self.postfixes, self.updates, self.closed = total, desc, [], 0, False
        FakeBar.made.append(self)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfixes.append(text)

    def update(self, n: int = 1) -> None:
        self.updates += n

    def close(self) -> None:
        self.closed = True


def test_tqdm_bar_shows_live_metrics(blobs, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", types.SimpleNamespace(tqdm=FakeBar))
    FakeBar.made.clear()
    make_trainer(make_classifier()).fit(blobs, epochs=2, batch_size=50, verbose=False,
                                        callbacks=[ProgressBar(2, steps=3, use_tqdm=True)])
    assert [b.desc for b in FakeBar.made] == ["Epoch 1/2", "Epoch 2/2"]
    for bar in FakeBar.made:
        assert bar.total == 3 and bar.updates == 3 and bar.closed
        assert all(re.fullmatch(r"loss: \d\.\d{4} - accuracy: \d\.\d{4}", p)
                   for p in bar.postfixes) and len(bar.postfixes) == 3
    assert len(capsys.readouterr().out.splitlines()) == 2  # the epoch lines stay


def test_real_tqdm_bar(blobs, capsys) -> None:
    pytest.importorskip("tqdm")
    make_trainer(make_classifier()).fit(blobs, epochs=2, batch_size=50, verbose=False,
                                        callbacks=[ProgressBar(2, steps=3, use_tqdm=True)])
    captured = capsys.readouterr()
    assert "Epoch 1/2" in captured.err and "Epoch 2/2" in captured.err
    assert captured.out.startswith("Epoch 1/2 - ")


HISTORY = {"loss": [1.0, 0.5, 0.3], "accuracy": [0.5, 0.8, 0.9], "val_loss": [1.1, 0.6, 0.5],
           "val_accuracy": [0.4, 0.7, 0.85], "lr": [0.1] * 3, "time": [0.1] * 3}


def test_hand_made_svg_curves(tmp_path) -> None:
    path = plot_history(HISTORY, tmp_path / "curves.png", backend="svg")
    assert path == tmp_path / "curves.svg"
    root = ET.parse(path).getroot()
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"loss", "accuracy", "train", "validation", "epoch"} <= set(texts)
    assert len(list(root.iter("{http://www.w3.org/2000/svg}polyline"))) == 4


def test_svg_when_matplotlib_is_missing(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    history = History()
    for epoch in range(2):
        history.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})
    assert plot_history(history, tmp_path / "c").suffix == ".svg"
    with pytest.raises(ImportError):
        plot_history(history, tmp_path / "c", backend="png")


def test_png_with_matplotlib(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    path = plot_history(HISTORY, tmp_path / "curves")
    assert path.suffix == ".png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_build_mlp() -> None:
    model = build_model("mlp", (8, 8), 10)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    assert model.num_parameters() == 64 * 256 + 256 + 256 * 10 + 10
    deep = build_model("mlp", 784, 10, hidden=(300, 100), dropout=0.0)
    assert deep.num_parameters() == 266_610
    assert "Dropout" not in [type(m).__name__ for m in deep]
    out = model(np.zeros((2, 8, 8), np.float32))
    assert out.shape == (2, 10)


def test_unknown_model_lists_known_names() -> None:
    assert "mlp" in MODELS
    with pytest.raises(ValueError, match="unknown model 'resnet'; known models: cnn, mlp"):
        build_model("resnet", 4, 2)
    with pytest.raises(ValueError, match="input_shape"):
        build_model("mlp", (0, 3), 2)
