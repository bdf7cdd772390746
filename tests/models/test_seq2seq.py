"""Seq2Seq encoder–decoders and decoding: step-by-step decoding equals teacher forcing,
padding changes nothing, beam search against exhaustive search, finished beams."""

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.ops import ShapeError
from chainrule.models.seq2seq import Seq2Seq, beam_search, greedy_decode, source_mask
from chainrule.models.seq2seq_transformer import TransformerSeq2Seq

rng = np.random.default_rng(0)


@pytest.fixture
def float64():
    cr.set_default_dtype("float64")
    yield
    cr.set_default_dtype("float32")


def _src(b=3, t=6, vocab=9):
    src = rng.integers(1, vocab, (b, t))
    src[1, 4:] = 0
    src[2, 2:] = 0
    return src


@pytest.mark.parametrize("attention", [None, "luong", "bahdanau"])
def test_step_decoding_equals_teacher_forcing(attention, float64):
    m = Seq2Seq(9, 7, embed_dim=4, hidden=5, attention=attention, sos=0, eos=6)
    m.eval()
    src = _src()
    tgt_in = np.c_[np.zeros(3, np.int64), rng.integers(1, 6, (3, 3))]
    logits, w = m(src, tgt_in, return_attention=True)
    assert logits.shape == (3, 4, 7)
    lp = np.asarray(cr.log_softmax(logits, axis=-1).data)
    state = m.start(src)
    for t in range(4):
        step_lp, state = m.step(tgt_in[:, t], state)
        np.testing.assert_allclose(step_lp, lp[:, t], atol=1e-10)
        if attention:
            np.testing.assert_allclose(state["attention"].data, w.data[:, t], atol=1e-10)
    if attention:  # padded source steps get no attention
        assert np.all(w.data[2, :, 2:] == 0)
        np.testing.assert_allclose(w.data.sum(-1), 1.0)


@pytest.mark.parametrize("attention", [None, "luong", "bahdanau"])
def test_extra_padding_changes_nothing(attention, float64):
    m = Seq2Seq(9, 7, embed_dim=4, hidden=5, attention=attention)
    src = _src()
    tgt_in = rng.integers(0, 6, (3, 4))
    a = m(src, tgt_in).data
    b = m(np.c_[src, np.zeros((3, 3), np.int64)], tgt_in).data
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_array_equal(source_mask(src), source_mask(src, (src != 0).sum(1)))


def test_seq2seq_gradients_flow_to_every_parameter(float64):
    m = Seq2Seq(9, 7, embed_dim=4, hidden=5, attention="luong")
    logits = m(_src(), rng.integers(0, 6, (3, 4)))
    cr.sum(logits * logits).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and np.any(p.grad.data != 0), name


class Markov:
    """A toy decoder: log P(next | last token) from a fixed table; no source."""

    sos, eos = 0, 3

    def __init__(self, probs):
        self.table = np.log(np.asarray(probs, dtype=float))

    def start(self, src, src_lengths=None):
        return {"dummy": np.zeros(len(src))}

    def step(self, tokens, state):
        return self.table[tokens], state


# tokens: 0 start, 1 "a", 2 "b", 3 end. Greedy takes "a" (0.6) and then can't do better
# than 0.6 * 0.34; "b end" has 0.4 * 0.99.
TABLE = [[1e-9, 0.6, 0.4, 1e-9],
         [1e-9, 0.34, 0.33, 0.33],
         [1e-9, 0.005, 0.005, 0.99],
         [0.25, 0.25, 0.25, 0.25]]


def _exhaustive(model, max_len):
    best, best_seq = -np.inf, None
    for seq in itertools.product(range(4), repeat=max_len):
        s, last = 0.0, model.sos
        for tok in seq:
            s += model.table[last, tok]
            last = tok
            if tok == model.eos:
                break
        if s > best:
            best, best_seq = s, seq
    return best, best_seq


def test_beam_search_finds_what_greedy_misses():
    m = Markov(TABLE)
    src = np.zeros((2, 1))
    g_tok, g_score = greedy_decode(m, src, max_len=5)
    b_tok, b_score = beam_search(m, src, beam_width=2, max_len=5)
    np.testing.assert_array_equal(b_tok[0], [2, 3, 3, 3, 3])  # finished early, carried over
    assert b_score[0] == pytest.approx(np.log(0.4) + np.log(0.99))
    assert g_tok[0, 0] == 1 and g_score[0] < b_score[0]
    best, seq = _exhaustive(m, 5)
    assert b_score[0] == pytest.approx(best)
    np.testing.assert_array_equal(b_tok[0][:2], seq[:2])


def test_beam_width_one_is_greedy_and_wide_beam_is_exhaustive():
    r = np.random.default_rng(3)
    for _ in range(5):
        p = r.random((4, 4)) + 0.05
        m = Markov(p / p.sum(1, keepdims=True))
        src = np.zeros((1, 1))
        g_tok, g_score = greedy_decode(m, src, max_len=4)
        b_tok, b_score = beam_search(m, src, beam_width=1, max_len=4)
        np.testing.assert_array_equal(g_tok, b_tok)
        np.testing.assert_allclose(g_score, b_score)
        w_tok, w_score = beam_search(m, src, beam_width=64, max_len=4)
        best, _ = _exhaustive(m, 4)
        assert w_score[0] == pytest.approx(best)
        all_tok, all_score = beam_search(m, src, beam_width=5, max_len=4, return_all=True)
        assert all_tok.shape == (1, 5, 4) and np.all(np.diff(all_score[0]) <= 0)


def test_decoding_bad_arguments():
    m = Markov(TABLE)
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(m, np.zeros((1, 1)), beam_width=0)
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(m, np.zeros((1, 1)), max_len=0)
    with pytest.raises(ValueError, match="attention"):
        Seq2Seq(5, 5, attention="bogus")


def test_transformer_seq2seq_step_equals_teacher_forcing_and_ignores_padding(float64):
    m = TransformerSeq2Seq(9, 7, d_model=8, nhead=2, dim_feedforward=16, eos=6)
    m.eval()
    src = _src()
    tgt_in = np.c_[np.zeros(3, np.int64), rng.integers(1, 6, (3, 3))]
    logits = m(src, tgt_in)
    lp = np.asarray(cr.log_softmax(logits, axis=-1).data)
    state = m.start(src)
    for t in range(4):
        step_lp, state = m.step(tgt_in[:, t], state)
        np.testing.assert_allclose(step_lp, lp[:, t], atol=1e-10)
    padded = m(np.c_[src, np.zeros((3, 2), np.int64)], tgt_in)
    np.testing.assert_allclose(padded.data, logits.data, atol=1e-12)
    _scores_are_sequence_log_probabilities(m, src)


def _scores_are_sequence_log_probabilities(m, src):
    """Every beam's score is the model's log-probability of its tokens up to the end token
    (computed again by teacher forcing), and the beams come best first."""
    tok, score = beam_search(m, src, beam_width=3, max_len=5, return_all=True)
    assert tok.shape == (3, 3, 5) and np.all(np.diff(score, axis=1) <= 0)
    for i in range(3):
        for j in range(3):
            seq = list(tok[i, j])
            n = seq.index(m.eos) + 1 if m.eos in seq else len(seq)
            tgt_in = np.array([[m.sos] + seq[:n - 1]])
            lp = np.asarray(cr.log_softmax(m(src[i:i + 1], tgt_in), axis=-1).data)[0]
            assert score[i, j] == pytest.approx(sum(lp[t, seq[t]] for t in range(n)))


@pytest.mark.parametrize("attention", [None, "luong", "bahdanau"])
def test_seq2seq_beam_scores(attention, float64):
    m = Seq2Seq(9, 7, embed_dim=4, hidden=5, attention=attention, sos=0, eos=6)
    m.eval()
    _scores_are_sequence_log_probabilities(m, _src())


def test_decoding_runs_in_eval_mode_and_restores_training():
    m = Seq2Seq(9, 7, embed_dim=4, hidden=5, attention="luong")
    m.train()
    tok, _ = greedy_decode(m, _src(), max_len=3)
    beam_search(m, _src(), beam_width=2, max_len=3)
    assert m.training and all(sub.training for sub in m.modules())
    assert tok.dtype == np.int64 and tok.shape == (3, 3)


@pytest.mark.parametrize("make", [lambda: Seq2Seq(9, 7, embed_dim=4, hidden=5),
                                  lambda: TransformerSeq2Seq(9, 7, d_model=4, nhead=2)])
def test_bad_source_names_the_model_and_shape(make):
    m = make()
    with pytest.raises(ShapeError, match=r"Seq2Seq.*integer ids.*\(6,\)"):
        m(np.ones(6, np.int64), np.zeros((1, 2), np.int64))
    with pytest.raises(ShapeError, match="integer ids.*float64"):
        m(np.ones((2, 3)), np.zeros((2, 2), np.int64))
    with pytest.raises(ShapeError, match="src_lengths"):
        m(np.ones((2, 3), np.int64), np.zeros((2, 2), np.int64), src_lengths=[3])
