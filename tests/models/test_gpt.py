"""The character GPT: the model against PyTorch, causality, the key/value cache, sampling,
checkpoints, the training pipeline (chainrule.models.gpt and chainrule.models.chargpt)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import CheckpointError, ShapeError
from chainrule.models import create_model, load_model, save_model
from chainrule.models.chargpt import (
    CosineOverBudget,
    GPTConfig,
    RandomWindows,
    evaluate,
    load_checkpoint,
    sample,
    save_checkpoint,
    train_chargpt,
)
from chainrule.models.charlm import Vocab
from chainrule.models.gpt import GPT, generate
from chainrule.optim import SGD

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
        * 40)


@pytest.fixture
def float64():
    old = cr.get_default_dtype()
    cr.set_default_dtype(np.float64)
    yield
    cr.set_default_dtype(old)


def _model(seed: int = 0, **kw: object) -> GPT:
    cr.manual_seed(seed)
    args = {"vocab_size": 11, "context": 16, "layers": 2, "heads": 2, "width": 8, **kw}
    return create_model("gpt", **args)


def _ids(shape: tuple[int, ...], seed: int = 0, vocab: int = 11) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, shape)


# --------------------------------------------------------------------------- the model
def test_shapes_registry_and_arguments():
    m = _model()
    assert m(_ids((3, 7))).shape == (3, 7, 11)
    assert m.arguments()["context"] == 16 and m.arguments()["activation"] == "gelu"
    assert isinstance(create_model("gpt", 5, context=4, layers=1, heads=1, width=4), GPT)


def test_weight_init_follows_gpt2():
    m = _model(layers=3, width=64, heads=4, context=64, vocab_size=50)
    sd = {k: np.asarray(v) for k, v in m.state_dict().items()}
    resid = 0.02 / math.sqrt(2 * 3)
    assert abs(sd["tok.weight"].std() - 0.02) < 0.003
    assert abs(sd["blocks.0.fc.weight"].std() - 0.02) < 0.002
    assert abs(sd["blocks.1.attn.proj.weight"].std() - resid) < 0.001
    assert abs(sd["blocks.2.out.weight"].std() - resid) < 0.001
    assert not sd["blocks.0.attn.qkv.bias"].any() and (sd["blocks.0.ln1.weight"] == 1).all()
    assert (sd["ln_f.weight"] == 1).all() and not sd["ln_f.bias"].any()


@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_matches_torch_forward_and_gradients(float64, activation):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    m = _model(seed=1, activation=activation)
    for p in m.parameters():  # non-trivial biases and norms
        p.data[...] += np.random.default_rng(2).normal(0, 0.1, p.shape)
    ids = _ids((2, 9), seed=3)
    targets = _ids((2, 9), seed=4)
    loss = nn.functional.cross_entropy(m(ids), targets)
    loss.backward()
    w = {k: torch.tensor(np.asarray(v), requires_grad=True) for k, v in m.state_dict().items()}
    b, t, h, d = 2, 9, 2, 4
    x = w["tok.weight"][torch.tensor(ids)] + w["pos.weight"][:t]
    for i in range(2):
        p = f"blocks.{i}."
        a = tf.layer_norm(x, (8,), w[p + "ln1.weight"], w[p + "ln1.bias"])
        qkv = tf.linear(a, w[p + "attn.qkv.weight"], w[p + "attn.qkv.bias"])
        q, k, v = qkv.view(b, t, 3, h, d).permute(2, 0, 3, 1, 4)
        y = tf.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).reshape(b, t, 8)
        x = x + tf.linear(y, w[p + "attn.proj.weight"], w[p + "attn.proj.bias"])
        a = tf.layer_norm(x, (8,), w[p + "ln2.weight"], w[p + "ln2.bias"])
        a = tf.linear(a, w[p + "fc.weight"], w[p + "fc.bias"])
        a = tf.gelu(a) if activation == "gelu" else tf.relu(a)
        x = x + tf.linear(a, w[p + "out.weight"], w[p + "out.bias"])
    logits = tf.linear(tf.layer_norm(x, (8,), w["ln_f.weight"], w["ln_f.bias"]),
                       w["head.weight"])
    ref = tf.cross_entropy(logits.reshape(-1, 11), torch.tensor(targets).reshape(-1))
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-10)
    np.testing.assert_allclose(m(ids).numpy(), logits.detach().numpy(), atol=1e-10)
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad, w[name].grad.numpy(), atol=1e-10, err_msg=name)


def test_causal_later_tokens_do_not_change_earlier_logits():
    m = _model()
    ids = _ids((2, 10))
    other = ids.copy()
    other[:, 6:] = (other[:, 6:] + 1) % 11
    a, b = m(ids).numpy(), m(other).numpy()
    np.testing.assert_allclose(a[:, :6], b[:, :6], atol=1e-6)
    assert np.abs(a[:, 6:] - b[:, 6:]).max() > 1e-4


def test_dropout_only_in_training():
    m = _model(dropout=0.3)
    ids = _ids((2, 8))
    assert np.abs(m(ids).numpy() - m(ids).numpy()).max() > 1e-4
    m.eval()
    np.testing.assert_array_equal(m(ids).numpy(), m(ids).numpy())


def test_bad_arguments_and_inputs_name_the_model_and_the_shapes():
    with pytest.raises(ValueError, match="width 10 is not divisible by heads 4"):
        create_model("gpt", 11, width=10, heads=4)
    with pytest.raises(ValueError, match="activation"):
        create_model("gpt", 11, activation="tanh")
    with pytest.raises(ValueError, match="context"):
        create_model("gpt", 11, context=0)
    m = _model()
    with pytest.raises(ShapeError, match=r"GPT: 17 positions .*\(2, 17\).*context 16"):
        m(_ids((2, 17)))
    with pytest.raises(ShapeError, match="GPT: expected token ids"):
        m(_ids((17,)))
    cache = m.new_cache(2)
    m(_ids((2, 10)), cache)
    with pytest.raises(ShapeError, match="17 positions .*after 10 cached"):
        m(_ids((2, 7)), cache)
    with pytest.raises(ShapeError, match="the cache holds batch 2"):
        m(_ids((3, 1)), cache)


# --------------------------------------------------------------------------- the cache
def test_cache_gives_the_full_forward_logits_in_any_chunks():
    m = _model()
    m.eval()
    ids = _ids((2, 16))
    full = m(ids).numpy()
    cache = m.new_cache(2)
    pieces = [m(ids[:, a:b], cache).numpy() for a, b in ((0, 5), (5, 6), (6, 11), (11, 16))]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, atol=1e-5)
    assert cache.length == 16


def test_generate_with_and_without_cache_agree_within_the_context():
    m = _model()
    prompt = _ids((4,))
    a = generate(m, prompt, 12, temperature=0.9, seed=5)
    b = generate(m, prompt, 12, temperature=0.9, seed=5, use_cache=False)
    assert a.shape == (12,) and (a == b).all()
    batch = generate(m, _ids((3, 2)), 5, top_k=3, seed=0)
    assert batch.shape == (3, 5) and batch.min() >= 0 and batch.max() < 11


def test_generate_past_the_context_rebuilds_the_cache():
    m = _model()
    out = generate(m, _ids((20,)), 40, seed=1)  # prompt longer than the context too
    assert out.shape == (40,) and out.max() < 11
    assert generate(m, _ids((3,)), 0).shape == (0,)


def test_top_k_one_is_greedy_and_seed_repeats():
    m = _model()
    m.eval()
    prompt = _ids((3,))
    out = generate(m, prompt, 6, top_k=1, seed=None)
    seq = list(prompt)
    for _ in range(6):
        seq.append(int(np.argmax(m(np.array([seq])).numpy()[0, -1])))
    assert out.tolist() == seq[3:]
    assert (generate(m, prompt, 8, seed=3) == generate(m, prompt, 8, seed=3)).all()


def test_generate_rejects_bad_arguments():
    m = _model()
    with pytest.raises(ValueError, match="temperature"):
        generate(m, [1], 3, temperature=0)
    with pytest.raises(ValueError, match="top_k"):
        generate(m, [1], 3, top_k=0)
    with pytest.raises(ValueError, match=r"prompt ids must lie in \[0, 11\)"):
        generate(m, [1, 11], 3)
    with pytest.raises(ShapeError, match="prompt"):
        generate(m, np.zeros((1, 0), np.int64), 3)


def test_sample_names_characters_outside_the_vocabulary():
    vocab = Vocab("abcdefghijk")
    m = _model()
    assert len(sample(m, vocab, 5, prompt="abc")) == 5
    with pytest.raises(ValueError, match=r"GPT prompt .*'Z'"):
        sample(m, vocab, 5, prompt="aZ")


# --------------------------------------------------------------------------- checkpoints
def test_save_and_load_model_round_trip(tmp_path):
    m = _model(activation="relu")
    ids = _ids((2, 5))
    save_model(m, tmp_path / "g.npz")
    again = load_model(tmp_path / "g.npz")
    assert isinstance(again, GPT) and again.activation == "relu"
    np.testing.assert_allclose(again(ids).numpy(), m(ids).numpy())


def test_chargpt_checkpoint_keeps_the_vocabulary(tmp_path):
    vocab = Vocab("abcdefghijk")
    m = _model()
    save_checkpoint(tmp_path / "c.npz", m, vocab, GPTConfig(), {"val_loss": [2.0]})
    again, v2, ckpt = load_checkpoint(tmp_path / "c.npz")
    assert v2.chars == vocab.chars and ckpt["config"]["context"] == 128
    assert sample(again, v2, 7, "ab", seed=1) == sample(m, vocab, 7, "ab", seed=1)
    save_model(create_model("char-lstm", 11, hidden=4, layers=1, embed=2), tmp_path / "l.npz")
    with pytest.raises(CheckpointError, match="not a character-GPT checkpoint"):
        load_checkpoint(tmp_path / "l.npz")


# --------------------------------------------------------------------------- training
def test_random_windows_are_shifted_by_one():
    ids = np.arange(100)
    w = RandomWindows(ids, batch=4, context=8, steps=3, rng=np.random.default_rng(0))
    batches = list(w)
    assert len(batches) == len(w) == 3
    x, y = batches[0]
    assert x.shape == y.shape == (4, 8) and (y == x + 1).all()
    with pytest.raises(ValueError, match="too few"):
        RandomWindows(np.arange(5), 2, 8)


def test_evaluate_is_the_mean_cross_entropy_over_context_windows():
    m = _model(context=8)
    ids = _ids((30,))
    total, count = 0.0, 0
    for start in range(0, 29, 8):
        x, y = ids[start:start + 8][: len(ids) - 1 - start], ids[start + 1:start + 9]
        total += float(nn.functional.cross_entropy(m(x[None]), y[None], "sum").item())
        count += len(y)
    assert evaluate(m, ids, batch=2) == pytest.approx(total / count, rel=1e-5)


def test_cosine_over_budget_warms_up_then_decays_to_the_minimum():
    m = _model()
    opt = SGD(m.parameters(), lr=1.0)
    s = CosineOverBudget(opt, 1.0, 0.1, warmup=4, minutes=None, steps=20)
    s.on_train_begin()
    rates = []
    for i in range(20):
        s.on_batch_begin(i)
        rates.append(opt.param_groups[0]["lr"])
        s.on_batch_end(i)
    assert rates[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert all(a >= b for a, b in zip(rates[4:], rates[5:]))
    s.step = 20
    assert s.lr() == pytest.approx(0.1)


def test_train_chargpt_learns_and_writes_a_checkpoint(tmp_path):
    cfg = GPTConfig(context=16, layers=1, heads=2, width=16, batch=8, lr=1e-2, min_lr=1e-3,
                    warmup=5, eval_every=20, steps_per_epoch=25)
    model, vocab, hist = train_chargpt(TEXT, cfg, steps=60, checkpoint=tmp_path / "g.npz",
                                       log=None)
    assert hist["steps"] == 60 and len(hist["val_loss"]) == 3
    assert hist["best_val"] < 0.6 * math.log(len(vocab))   # well below uniform
    assert hist["best_val"] == min(hist["val_loss"])
    assert len(hist["cpu_seconds"]) == 3 and 0 < hist["cpu_seconds"][0] < hist["cpu_seconds"][2]
    again, _, ckpt = load_checkpoint(tmp_path / "g.npz")
    assert ckpt["history"]["val_loss"] == hist["val_loss"]
    assert evaluate(again, vocab.encode(TEXT[-500:])) == pytest.approx(
        evaluate(model, vocab.encode(TEXT[-500:])), rel=1e-6)
