"""Transformer layers (nn/transformer.py): gradients, bad input, and PyTorch agreement with
copied weights in evaluation mode (float64)."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.errors import ShapeError

rng = np.random.default_rng(2)


def test_encoder_layer_gradcheck(float64):
    cr.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0,
                                       batch_first=True, activation="gelu").eval()
    x = rng.normal(size=(2, 3, 4))
    assert cr.gradcheck(lambda x: layer(x, is_causal=True), [x])


def test_stacks_are_independent_copies():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    enc = nn.TransformerEncoder(layer, 3)
    names = list(enc.state_dict())
    assert names[0] == "layers.0.self_attn.in_proj_weight"
    assert "layers.2.norm2.bias" in names
    w0, w1 = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert w0 is not w1 and w0.data is not w1.data
    assert len(enc.parameters()) == 3 * len(layer.parameters())


def test_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(4).data
    np.testing.assert_array_equal(m == 0, np.tril(np.ones((4, 4), bool)))
    assert np.isneginf(m[np.triu_indices(4, 1)]).all()


def test_bad_input_names_the_layer_and_shapes():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    with pytest.raises(ShapeError, match=r"TransformerEncoderLayer\(d_model=8, nhead=2\): src "
                                         r"of shape \(2, 5, 6\) should be \(N, T, 8\)"):
        layer(np.zeros((2, 5, 6), np.float32))
    with pytest.raises(ValueError, match="embed_dim 8 is not divisible by num_heads 3"):
        nn.TransformerEncoderLayer(8, 3)
    with pytest.raises(ValueError, match="activation should be 'relu', 'gelu' or a callable"):
        nn.TransformerDecoderLayer(8, 2, activation="swish")
    t = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)
    with pytest.raises(ShapeError, match=r"Transformer\(d_model=8\): src \(2, 5, 8\) and tgt "
                                         r"\(3, 4, 8\) have different batch sizes"):
        t(np.zeros((2, 5, 8), np.float32), np.zeros((3, 4, 8), np.float32))


# --------------------------------------------------------------------------- PyTorch


try:
    import torch
except ImportError:  # the oracle is optional
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is the oracle here")


def _copy_weights(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    return ours.eval(), theirs.eval()


CONFIGS = {
    "post_ln_relu": {},
    "pre_ln_gelu_batch_first": {"norm_first": True, "activation": "gelu",
                                "batch_first": True},
    "no_bias": {"bias": False, "layer_norm_eps": 1e-6},
}


def _activation_for_torch(kw):
    return {**kw, "activation": kw.get("activation", "relu")}


def _seq(t, n, d, batch_first):
    return rng.normal(size=(n, t, d) if batch_first else (t, n, d))


@needs_torch
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_encoder_and_decoder_layers_equal_torch(config, float64):
    kw = CONFIGS[config]
    bf = kw.get("batch_first", False)
    torch.manual_seed(0)
    for ours_cls, theirs_cls in ((nn.TransformerEncoderLayer,
                                  torch.nn.TransformerEncoderLayer),
                                 (nn.TransformerDecoderLayer,
                                  torch.nn.TransformerDecoderLayer)):
        theirs = theirs_cls(8, 2, 16, dropout=0.1, dtype=torch.float64,
                            **_activation_for_torch(kw))
        ours, theirs = _copy_weights(ours_cls(8, 2, 16, dropout=0.1, **kw), theirs)
        x, mem = _seq(5, 3, 8, bf), _seq(6, 3, 8, bf)
        causal = nn.Transformer.generate_square_subsequent_mask(5).data
        pad = np.array([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]])
        if ours_cls is nn.TransformerEncoderLayer:
            out = ours(x, src_mask=causal, src_key_padding_mask=pad)
            tout = theirs(torch.tensor(x), src_mask=torch.tensor(causal),
                          src_key_padding_mask=torch.tensor(pad))
        else:
            mpad = np.array([[False] * 6, [False] * 2 + [True] * 4, [False] * 5 + [True]])
            out = ours(x, mem, tgt_mask=causal, tgt_key_padding_mask=pad,
                       memory_key_padding_mask=mpad)
            tout = theirs(torch.tensor(x), torch.tensor(mem), tgt_mask=torch.tensor(causal),
                          tgt_key_padding_mask=torch.tensor(pad),
                          memory_key_padding_mask=torch.tensor(mpad))
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=0, atol=1e-10)


@needs_torch
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_transformer_equals_torch_forward_and_gradients(config, float64):
    kw = CONFIGS[config]
    bf = kw.get("batch_first", False)
    torch.manual_seed(1)
    theirs = torch.nn.Transformer(8, 2, 2, 2, 16, dtype=torch.float64,
                                  **_activation_for_torch(kw))
    ours, theirs = _copy_weights(nn.Transformer(8, 2, 2, 2, 16, **kw), theirs)
    src, tgt = _seq(6, 3, 8, bf), _seq(5, 3, 8, bf)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    s, t = cr.tensor(src, requires_grad=True), cr.tensor(tgt, requires_grad=True)
    ts, tt = torch.tensor(src, requires_grad=True), torch.tensor(tgt, requires_grad=True)
    out = ours(s, t, tgt_mask=mask)
    tout = theirs(ts, tt, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(
        5, dtype=torch.float64))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=0, atol=1e-10)
    g = rng.normal(size=out.shape)
    (out * g).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(s.grad.data, ts.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), rtol=0, atol=1e-10)
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, named[name].grad.numpy(), rtol=0, atol=1e-10,
                                   err_msg=name)


@needs_torch
def test_encoder_with_final_norm_and_causal_flag_equals_torch(float64):
    torch.manual_seed(2)
    tl = torch.nn.TransformerEncoderLayer(8, 4, 16, dtype=torch.float64, batch_first=True)
    theirs = torch.nn.TransformerEncoder(tl, 2, norm=torch.nn.LayerNorm(
        8, dtype=torch.float64), enable_nested_tensor=False)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 4, 16, batch_first=True), 2,
                                 norm=nn.LayerNorm(8))
    ours, theirs = _copy_weights(ours, theirs)
    x = rng.normal(size=(2, 7, 8))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(7, dtype=torch.float64)
    tout = theirs(torch.tensor(x), mask=mask, is_causal=True)
    out = ours(x, is_causal=True)  # the causal mask is made when none is given
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=0, atol=1e-10)
