"""MultiheadAttention and the positional encodings (nn/attention.py)."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.errors import ShapeError

rng = np.random.default_rng(1)


def test_gradcheck_through_the_layer(float64):
    cr.manual_seed(0)
    mha = nn.MultiheadAttention(6, 2, batch_first=True)
    mask = np.triu(np.ones((4, 4), bool), 1)
    x = rng.normal(size=(2, 4, 6))
    assert cr.gradcheck(lambda x: mha(x, x, x, attn_mask=mask)[0], [x])
    assert cr.gradgradcheck(lambda x: mha(x, x, x, need_weights=False)[0], [x], atol=1e-4)
    # the weights are differentiable too (their composite path), with dropout as well
    assert cr.gradcheck(lambda x: mha(x, x, x, average_attn_weights=False)[1], [x])
    mha.dropout = 0.3

    def seeded(x):
        cr.manual_seed(2)  # the same dropout mask at every evaluation
        out, w = mha(x, x, x)
        return out.sum() + (w * w).sum()

    assert cr.gradcheck(seeded, [x])


def test_bad_input_names_the_layer_and_shapes():
    with pytest.raises(ValueError, match="MultiheadAttention: embed_dim 10 is not divisible "
                                         "by num_heads 3"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = np.zeros((2, 5, 8), np.float32)
    with pytest.raises(ShapeError, match=r"MultiheadAttention\(8, num_heads=2\): key of shape "
                                         r"\(2, 5, 6\) should end with its embedding size 8"):
        mha(x, np.zeros((2, 5, 6), np.float32), x)
    with pytest.raises(ShapeError, match=r"attn_mask of shape \(5, 4\) should be \(L, S\) = "
                                         r"\(5, 5\)"):
        mha(x, x, x, attn_mask=np.zeros((5, 4), bool))
    with pytest.raises(ShapeError, match=r"key_padding_mask of shape \(5,\) should be "
                                         r"\(N, S\) = \(2, 5\)"):
        mha(x, x, x, key_padding_mask=np.zeros(5, bool))
    with pytest.raises(TypeError, match="attn_mask must be boolean .* got dtype int64"):
        mha(x, x, x, attn_mask=np.zeros((5, 5), np.int64))
    with pytest.raises(ShapeError, match="different batch sizes"):
        mha(x, np.zeros((3, 5, 8), np.float32), np.zeros((3, 5, 8), np.float32))


def test_fully_padded_sequence_gives_finite_output_and_gradient(float64):
    mha = nn.MultiheadAttention(4, 2, batch_first=True)
    x = cr.tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    pad = np.array([[False, False, True], [True, True, True]])
    out, w = mha(x, x, x, key_padding_mask=pad)
    np.testing.assert_array_equal(w.data[1], 0.0)
    out.sum().backward()
    assert np.isfinite(out.data).all() and np.isfinite(x.grad.data).all()


def test_dropout_drops_the_same_weights_it_returns(float64):
    """In training, the returned weights (after dropout, as PyTorch's) are the ones the
    output was computed with; in evaluation there is no dropout."""
    mha = nn.MultiheadAttention(6, 2, dropout=0.5, batch_first=True)
    x = rng.normal(size=(2, 4, 6))
    cr.manual_seed(0)
    out, w = mha(x, x, x, average_attn_weights=False)
    v = x @ mha.in_proj_weight.data[12:].T + mha.in_proj_bias.data[12:]
    heads = v.reshape(2, 4, 2, 3).transpose(0, 2, 1, 3)
    merged = (w.data @ heads).transpose(0, 2, 1, 3).reshape(2, 4, 6)
    expected = merged @ mha.out_proj.weight.data.T + mha.out_proj.bias.data
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert (w.data == 0).any() and not np.allclose(w.data.sum(-1), 1.0)
    mha.eval()
    _, w_eval = mha(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(w_eval.data.sum(-1), 1.0)


# --------------------------------------------------------------------------- positions


def test_sinusoidal_table_is_the_papers_formula():
    pe = nn.attention.sinusoidal_table(50, 16)
    p, i = 7, 6  # an even dimension i: sin(p / 10000^(i/d)); i + 1: cos of the same angle
    assert pe[p, i] == pytest.approx(np.sin(p / 10000 ** (i / 16)))
    assert pe[p, i + 1] == pytest.approx(np.cos(p / 10000 ** (i / 16)))
    np.testing.assert_array_equal(pe[0, 0::2], 0.0)
    np.testing.assert_array_equal(pe[0, 1::2], 1.0)
    odd = nn.attention.sinusoidal_table(50, 15)  # the book: the table for 16, cut
    np.testing.assert_array_equal(odd, nn.attention.sinusoidal_table(50, 16)[:, :15])


def test_positional_encodings_add_their_rows():
    x = rng.normal(size=(2, 5, 8)).astype(np.float32)
    sin = nn.SinusoidalPositionalEncoding(10, 8)
    np.testing.assert_allclose(sin(x).data, x + sin.pe[:5], rtol=1e-6)
    np.testing.assert_allclose(sin(x, start=3).data, x + sin.pe[3:8], rtol=1e-6)
    assert "pe" in sin.state_dict() and not sin.parameters()
    seq_first = nn.SinusoidalPositionalEncoding(10, 8, batch_first=False)
    np.testing.assert_allclose(seq_first(x.transpose(1, 0, 2)).data.transpose(1, 0, 2),
                               sin(x).data, rtol=1e-6)
    learned = nn.LearnedPositionalEncoding(10, 8)
    out = learned(x)
    out.sum().backward()
    grad = learned.weight.grad.data
    np.testing.assert_allclose(grad[:5], 2.0)  # each row used once per example
    np.testing.assert_array_equal(grad[5:], 0.0)


@pytest.mark.parametrize("cls", [nn.SinusoidalPositionalEncoding, nn.LearnedPositionalEncoding])
def test_sequence_longer_than_the_table_raises(cls):
    layer = cls(4, 8)
    with pytest.raises(ShapeError, match=rf"{cls.__name__}\(max_len=4, d_model=8.*length 6.*"
                                         r"max_len >= 6"):
        layer(np.zeros((1, 6, 8), np.float32))
    with pytest.raises(ShapeError, match=rf"{cls.__name__}.*expected input \(\.\.\., T, 8\)"):
        layer(np.zeros((1, 3, 7), np.float32))


# --------------------------------------------------------------------------- PyTorch


try:
    import torch
except ImportError:  # the oracle is optional
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is the oracle here")


def _pair(embed=8, heads=2, **kw):
    """A torch MultiheadAttention and ours with its weights (float64)."""
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(embed, heads, dtype=torch.float64, **kw)
    ours = nn.MultiheadAttention(embed, heads, **kw)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


MASKS = {
    "none": {},
    "bool_attn": {"attn_mask": np.triu(np.ones((5, 6), bool), 1)},
    "float_attn_per_head": {"attn_mask": rng.normal(size=(3 * 2, 5, 6))},
    "padding": {"key_padding_mask": np.array([[False] * 4 + [True] * 2,
                                              [False] * 6, [True] * 5 + [False]])},
    "both": {"attn_mask": np.triu(np.ones((5, 6), bool), 1),
             "key_padding_mask": np.array([[False] * 4 + [True] * 2] * 3)},
}


@needs_torch
@pytest.mark.parametrize("masks", sorted(MASKS))
@pytest.mark.parametrize("config", ["self_first", "kdim_vdim", "nobias_batch_first"])
@pytest.mark.parametrize("average", [True, False])
def test_equals_torch_forward_and_gradients(masks, config, average, float64):
    kw = {"self_first": {}, "kdim_vdim": {"kdim": 3, "vdim": 4},
          "nobias_batch_first": {"bias": False, "batch_first": True}}[config]
    ours, theirs = _pair(**kw)
    bf = kw.get("batch_first", False)
    shape = (lambda t, d: (3, t, d)) if bf else (lambda t, d: (t, 3, d))
    q = rng.normal(size=shape(5, 8))
    k = rng.normal(size=shape(6, kw.get("kdim", 8)))
    v = rng.normal(size=shape(6, kw.get("vdim", 8)))
    mask_kw = MASKS[masks]
    ins = [cr.tensor(a, requires_grad=True) for a in (q, k, v)]
    tins = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out, w = ours(*ins, average_attn_weights=average, **mask_kw)
    tout, tw = theirs(*tins, average_attn_weights=average,
                      **{n: torch.tensor(m) for n, m in mask_kw.items()})
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=0, atol=1e-10)
    g, gw = rng.normal(size=out.shape), rng.normal(size=w.shape)
    ((out * g).sum() + (w * gw).sum()).backward()
    ((tout * torch.tensor(g)).sum() + (tw * torch.tensor(gw)).sum()).backward()
    for a, b in zip(ins, tins):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=0, atol=1e-10)
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, named[name].grad.numpy(), rtol=0, atol=1e-10)


@needs_torch
def test_need_weights_false_and_unbatched_equal_torch(float64):
    ours, theirs = _pair()
    x = rng.normal(size=(5, 8))
    out, w = ours(x, x, x, need_weights=False)
    tx = torch.tensor(x)
    tout, tw = theirs(tx, tx, tx, need_weights=False)
    assert w is None and tw is None
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=0, atol=1e-10)
    out, w = ours(x, x, x, key_padding_mask=np.array([False] * 4 + [True]))
    tout, tw = theirs(tx, tx, tx, key_padding_mask=torch.tensor([False] * 4 + [True]))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=0, atol=1e-10)


@needs_torch
def test_fully_padded_sequence_equals_torch_fast_path(float64):
    """A sequence with every key padded: torch's weights path gives NaN there, its
    need_weights=False path zeros (before out_proj), as ours does on both paths."""
    ours, theirs = _pair()
    x = rng.normal(size=(6, 3, 8))
    pad = np.array([[False] * 4 + [True] * 2, [False] * 6, [True] * 6])
    ins, tins = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, w = ours(ins, ins, ins, key_padding_mask=pad)
    tout, _ = theirs(tins, tins, tins, key_padding_mask=torch.tensor(pad), need_weights=False)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(w.data[2], 0.0)
    g = rng.normal(size=out.shape)
    (out * g).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ins.grad.data, tins.grad.numpy(), rtol=0, atol=1e-10)


@needs_torch
def test_torch_state_dict_names_load(float64):
    for kw in ({}, {"kdim": 3, "vdim": 5}, {"bias": False}):
        ours, theirs = _pair(**kw)
        assert list(ours.state_dict()) == list(theirs.state_dict())
