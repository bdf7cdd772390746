"""The character language model: batching, training, checkpoints, sampling, the CLI."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from chainrule import nn
from chainrule.cli import _charlm
from chainrule.cli import train as cli_train
from chainrule.cli.generate import add_generate_parser, run_generate
from chainrule.models.charlm import (
    CharLMConfig,
    CharLSTM,
    StreamBatcher,
    Vocab,
    evaluate,
    load_checkpoint,
    sample,
    save_checkpoint,
    split_text,
    train_charlm,
)
from chainrule.optim import Adam
from chainrule.random import manual_seed

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
        * 40)


def _gen_args(**kw: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_generate_parser(parser.add_subparsers(dest="command"))
    argv = ["generate"]
    for k, v in kw.items():
        argv += [f"--{k}", str(v)]
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def tiny_model() -> tuple[CharLSTM, Vocab]:
    manual_seed(0)
    vocab = Vocab(TEXT)
    return CharLSTM(len(vocab), hidden=16, layers=2, embed=8, dropout=0.1), vocab


def test_vocab_round_trip_and_unknown_characters() -> None:
    vocab = Vocab(TEXT)
    assert vocab.chars == "".join(sorted(set(TEXT)))
    ids = vocab.encode("Speak, speak.")
    assert ids.dtype == np.int64 and vocab.decode(ids) == "Speak, speak."
    with pytest.raises(ValueError, match="not in the model's vocabulary.*'Z'"):
        vocab.encode("Zounds")


def test_split_is_first_ninety_percent() -> None:
    train, val = split_text("abcdefghij")
    assert (train, val) == ("abcdefghi", "j")
    with pytest.raises(ValueError):
        split_text("abc", 1.0)


def test_stream_batches_are_contiguous_and_shifted() -> None:
    ids = np.arange(1000)
    batches = list(StreamBatcher(ids, batch=4, seq=10).epoch(offset=0))
    assert len(batches) == (999 // 4) // 10
    for x, y in batches:
        assert x.shape == y.shape == (4, 10)
        np.testing.assert_array_equal(y, x + 1)  # targets are the next characters
    (x0, y0), (x1, _) = batches[0], batches[1]
    np.testing.assert_array_equal(x1[:, 0], y0[:, -1])  # row b continues row b
    assert len({int(r[0]) for r in x0}) == 4  # rows start at different places
    with pytest.raises(ValueError, match="too few"):
        StreamBatcher(np.arange(20), batch=4, seq=10)


def test_forward_shapes(tiny_model: tuple[CharLSTM, Vocab]) -> None:
    model, vocab = tiny_model
    logits, (h, c) = model(np.zeros((3, 7), dtype=np.int64))
    assert logits.shape == (3, 7, len(vocab))
    assert h.shape == c.shape == (2, 3, 16)


def test_a_few_steps_reduce_the_loss() -> None:
    manual_seed(1)
    vocab = Vocab(TEXT)
    ids = vocab.encode(TEXT)
    model = CharLSTM(len(vocab), hidden=32, layers=2, embed=8, dropout=0.0)
    before = evaluate(model, ids[:600], batch=4, seq=50)
    assert abs(before - np.log(len(vocab))) < 0.5  # near uniform at the start
    opt, loss_fn = Adam(model.parameters(), lr=1e-2), nn.CrossEntropyLoss()
    state = None
    for x, y in StreamBatcher(ids, batch=8, seq=20).epoch(offset=0):
        logits, state = model(x, state)
        loss = loss_fn(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        state = tuple(s.detach() for s in state)
    after = evaluate(model, ids[:600], batch=4, seq=50)
    assert after < before - 0.4


def test_train_loop_checkpoint_round_trip_and_seeded_sampling(tmp_path) -> None:
    cfg = CharLMConfig(hidden=16, layers=2, embed=8, seq=10, batch=4, eval_every=5, lr=1e-2)
    path = tmp_path / "m.npz"
    model, vocab, hist = train_charlm(TEXT, cfg, steps=10, checkpoint=path, log=None)
    assert hist["steps"] == 10 and hist["step"][:2] == [5.0, 10.0]
    assert hist["best_val"] == min(hist["val_loss"])
    loaded, vocab2, ckpt = load_checkpoint(path)
    assert vocab2.chars == vocab.chars and ckpt["kind"] == "char-lstm"
    x = vocab.encode("Speak, speak.")[None, :]
    model.eval()
    np.testing.assert_allclose(loaded(x)[0].numpy(), model(x)[0].numpy(), rtol=1e-6)
    a = sample(loaded, vocab2, 40, prompt="All:", temperature=1.0, seed=3)
    assert a == sample(model, vocab, 40, prompt="All:", temperature=1.0, seed=3)
    assert len(a) == 40 and set(a) <= set(vocab.chars)
    assert a != sample(loaded, vocab2, 40, prompt="All:", temperature=1.0, seed=4)
    # a low temperature is close to greedy: mostly the same characters whatever the seed
    cold = [sample(loaded, vocab2, 30, prompt="All:", temperature=0.05, seed=s) for s in (1, 2)]
    assert cold[0] == cold[1]


def test_sample_rejects_bad_temperature(tiny_model: tuple[CharLSTM, Vocab]) -> None:
    model, vocab = tiny_model
    for t in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            sample(model, vocab, 5, temperature=t)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_model: tuple[CharLSTM, Vocab]) -> str:
    path = tmp_path_factory.mktemp("ckpt") / "model.npz"
    save_checkpoint(path, *tiny_model)
    return str(path)


def test_generate_cli_is_seeded(checkpoint: str, capsys) -> None:
    outs = []
    for _ in range(2):
        assert run_generate(_gen_args(checkpoint=checkpoint, length=25, temperature=0.7,
                                      prompt="All:", seed=5)) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and outs[0].startswith("All:") and len(outs[0]) == 4 + 25 + 1


@pytest.mark.parametrize("kw, message", [
    ({"prompt": "Zounds"}, "not in the model's vocabulary"),
    ({"temperature": 0}, "--temperature must be a positive number"),
    ({"temperature": -0.5}, "--temperature must be a positive number"),
    ({"length": -1}, "--length must be >= 0"),
])
def test_generate_cli_bad_input(checkpoint: str, capsys, kw: dict, message: str) -> None:
    assert run_generate(_gen_args(checkpoint=checkpoint, **kw)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("chainrule generate: error:")


def test_generate_cli_missing_or_bad_checkpoint(tmp_path, capsys) -> None:
    assert run_generate(_gen_args(checkpoint=tmp_path / "nope.npz")) == 2
    err = capsys.readouterr().err
    assert "not found" in err and err.count("\n") == 1
    bad = tmp_path / "bad.npz"
    bad.write_text("not a checkpoint")
    assert run_generate(_gen_args(checkpoint=bad)) == 2
    err = capsys.readouterr().err
    assert "cannot read checkpoint" in err and err.count("\n") == 1


def test_train_cli_routes_char_lstm(tmp_path, capsys, monkeypatch) -> None:
    corpus = TEXT * 2  # ~6,000 characters instead of the real corpus
    monkeypatch.setattr(_charlm, "_corpus", lambda args: corpus)
    out = tmp_path / "run"
    code = cli_train.main(["--model", "char-lstm", "--dataset", "shakespeare", "--steps", "2",
                           "--batch-size", "4", "--data-dir", str(tmp_path), "--out", str(out),
                           "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert "best validation" in capsys.readouterr().out
    model, vocab, ckpt = load_checkpoint(out / "model.npz")
    assert len(vocab) == len(set(corpus)) and ckpt["config"]["batch"] == 4
    assert cli_train.main(["--model", "char-lstm", "--dataset", "shakespeare", "--steps", "0",
                           "--data-dir", str(tmp_path)]) == 2
    assert "--steps must be a positive integer" in capsys.readouterr().err
    assert cli_train.main(["--model", "char-lstm", "--dataset", "mnist"]) == 2
    assert "char-lstm trains on --dataset shakespeare" in capsys.readouterr().err
