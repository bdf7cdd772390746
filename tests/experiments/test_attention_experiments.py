"""experiments/reber.py and experiments/date_translation.py, imported by path, on tiny data
(the studies behind docs/attention.md)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reber_tiny_run_learns():
    r = _load("reber").run(seed=0, epochs=4, n_train=800, n_valid=200, verbose=False)
    losses = [h["loss"] for h in r["history"]]
    assert len(losses) == 4 and losses[-1] < losses[0] and losses[-1] < np.log(2)
    assert all(0 <= h["val_acc"] <= 1 for h in r["history"])
    assert set(r["tricky"]) == {"BPBTSSSSSSSXXTTVPXVPXTTTTTVVETE",
                                "BPBTSSSSSSSXXTTVPXVPXTTTTTVVEPE"}
    assert all(0 < p < 1 for p in r["tricky"].values())


def test_reber_padding_gives_the_unpadded_answer():
    reber = _load("reber")
    model = reber.ReberClassifier()
    ids, lengths = reber.pad([[0, 2, 0, 4, 1], [0, 4, 0, 1, 2, 2, 5, 6, 1, 4, 1]])
    both = model(ids, lengths).data
    alone = model(ids[:1, :5], lengths[:1]).data
    np.testing.assert_allclose(both[0], alone[0], rtol=1e-5)


def test_date_translation_tiny_run_keeps_the_best_validation_epoch():
    dt = _load("date_translation")
    data = dt.splits(sizes=(300, 60, 60))
    r, model = dt.run("luong", 0, epochs=2, data=data, beams=(2,), verbose=False, hidden=16)
    keys = [(h["val_exact"], -h["val_loss"]) for h in r["history"]]
    assert (r["val_exact"], -r["val_loss"]) == max(keys)
    assert r["best_epoch"] == 1 + keys.index(max(keys))
    # the kept weights are the best epoch's: decoding validation again gives its score
    assert dt.exact_match(dt.decode(model, data["valid"][0]), data["valid"][1]) == \
        pytest.approx(r["val_exact"])
    assert dt.loss_on(model, *data["valid"]) == pytest.approx(r["val_loss"], rel=1e-5)
    assert {"test_greedy", "test_beam2"} <= set(r)
    row = dt.table([r], [2]).splitlines()[2]
    assert row.startswith("| luong | 0 |") and f"{r['best_epoch']} of 2" in row


def test_date_exact_match_and_teacher_forcing():
    dt = _load("date_translation")
    x, y = dt.splits(sizes=(4, 1, 1))["train"]
    dec_in, dec_out = dt.teacher_forcing(y)
    assert np.all(dec_in[:, 0] == dt.SOS) and np.all(dec_out[:, -1] == dt.EOS)
    assert dt.exact_match(dec_out, y) == 1.0
    wrong = dec_out.copy()
    wrong[0, 3] = 1 + (wrong[0, 3] % 10)
    assert dt.exact_match(wrong, y) == 0.75


def test_date_attention_figure(tmp_path):
    pytest.importorskip("matplotlib")
    dt = _load("date_translation")
    model = dt.build("luong", hidden=8)
    out = dt.attention_figure(model, "April 22, 2019", str(tmp_path / "att.png"))
    assert Path(out).stat().st_size > 1000


def test_date_translation_refuses_unknown_model():
    with pytest.raises(SystemExit, match="unknown model 'gru'"):
        _load("date_translation").build("gru")
