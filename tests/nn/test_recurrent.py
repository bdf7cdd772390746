"""Recurrent layers: gradchecks through time, PyTorch with copied weights, masking, errors."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn

rng = np.random.default_rng(0)


@pytest.fixture
def float64():
    cr.set_default_dtype("float64")
    yield
    cr.set_default_dtype("float32")


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.GRUCell, nn.LSTMCell])
def test_cells_first_and_second_order(cls, float64):
    cell = cls(3, 4)
    params = cell.parameters()

    def f(x, h, *weights):
        for p, w in zip(params, weights):
            object.__setattr__(cell, [n for n, q in cell._parameters.items() if q is p][0], w)
        out = cell(x, (h, h * 0.5) if cls is nn.LSTMCell else h)
        return out[1] * out[0] if cls is nn.LSTMCell else out

    inputs = [rng.standard_normal((2, 3)), rng.standard_normal((2, 4))] + \
        [p.data.copy() for p in params]
    assert cr.gradcheck(f, inputs)
    assert cr.gradgradcheck(f, inputs, atol=1e-4)


@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
def test_layers_gradcheck_through_time(cls, float64):
    layer = cls(3, 4, num_layers=2, bidirectional=True)
    x = rng.standard_normal((2, 5, 3))
    assert cr.gradcheck(lambda x: layer(x), [x])
    w = layer._cells[0].weight_hh

    def of_weight(wv):
        saved = w.data.copy()
        w.data[...] = wv.data
        try:
            leaf = layer._cells[0]
            object.__setattr__(leaf, "weight_hh", wv)
            return layer(x).sum()
        finally:
            object.__setattr__(layer._cells[0], "weight_hh", w)
            w.data[...] = saved

    assert cr.gradcheck(of_weight, [w.data.copy()], check_jvp=False)


def _copy_from_torch(ours, theirs, layers, dirs):
    for layer in range(layers):
        for d in range(dirs):
            cell = ours._cells[layer * dirs + d]
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).data[...] = getattr(theirs, name + suffix).detach().numpy()


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layers_match_torch_with_copied_weights(kind, bidirectional, float64):
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    try:
        ours = getattr(nn, kind)(4, 5, num_layers=2, bidirectional=bidirectional,
                                 return_state=True)
        theirs = getattr(torch.nn, kind)(4, 5, num_layers=2, bidirectional=bidirectional,
                                         batch_first=True)
        _copy_from_torch(ours, theirs, 2, 2 if bidirectional else 1)
        x = rng.standard_normal((3, 6, 4))
        xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, state = ours(xc)
        out_t, state_t = theirs(xt)
        g = rng.standard_normal(out.shape)
        out.backward(g)
        out_t.backward(torch.tensor(g))
        h, h_t = (state[0], state_t[0]) if kind == "LSTM" else (state, state_t)
        np.testing.assert_allclose(out.data, out_t.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(h.data, h_t.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(xc.grad.data, xt.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(ours._cells[0].weight_hh.grad.data,
                                   theirs.weight_hh_l0.grad.numpy(), atol=1e-12)
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("cls", [nn.GRU, nn.LSTM])
def test_padded_steps_change_neither_result_nor_gradients(cls, float64):
    layer = cls(3, 4, bidirectional=True, return_sequences=False)
    x = rng.standard_normal((2, 6, 3))
    padded = cr.tensor(x, requires_grad=True)
    y = layer(padded, lengths=[6, 4])
    y.sum().backward()
    alone = cr.tensor(x[1:, :4], requires_grad=True)
    y1 = layer(alone)
    y1.sum().backward()
    np.testing.assert_allclose(y.data[1], y1.data[0], atol=1e-12)
    np.testing.assert_allclose(padded.grad.data[1, :4], alone.grad.data[0], atol=1e-12)
    assert not padded.grad.data[1, 4:].any()
    seq = cls(3, 4)(x, mask=np.array([[True] * 6, [True] * 4 + [False] * 2]))
    assert not seq.data[1, 4:].any()


def test_initial_state_return_state_and_shapes():
    lstm = nn.LSTM(3, 4, num_layers=2, return_state=True)
    h0 = np.zeros((2, 5, 4), np.float32)
    out, (h, c) = lstm(np.zeros((5, 7, 3), np.float32), initial_state=(h0, h0))
    assert out.shape == (5, 7, 4) and h.shape == (2, 5, 4) and c.shape == (2, 5, 4)
    np.testing.assert_allclose(out.data[:, -1], h.data[-1])
    gru = nn.GRU(3, 4, batch_first=False, return_sequences=False)
    assert gru(np.zeros((7, 5, 3), np.float32)).shape == (5, 4)


def test_textbook_autograd_examples():
    """Deep Learning from Scratch, chapter 6."""
    a = cr.tensor(3.0, requires_grad=True)
    ((4 * a + 3) * (a + 2)).backward()
    assert a.grad.item() == 35
    b = cr.tensor(3.0, requires_grad=True)
    ((2 * b) ** 2).backward()
    assert b.grad.item() == 24


def test_embedding_gradients_accumulate_and_padding_row_is_frozen():
    emb = nn.Embedding(5, 3, padding_idx=0)
    idx = np.array([[1, 1, 0], [2, 1, 0]])
    emb(idx).sum().backward()
    np.testing.assert_allclose(emb.weight.grad.data[1], [3, 3, 3])
    np.testing.assert_allclose(emb.weight.grad.data[0], [0, 0, 0])
    with pytest.raises(IndexError, match=r"\[0, 5\)"):
        emb(np.array([5]))


def test_bad_input_names_layer_and_shapes():
    lstm = nn.LSTM(3, 4)
    with pytest.raises(cr.ShapeError, match=r"LSTM\(3, 4.*3 features.*\(2, 5\)"):
        lstm(np.zeros((2, 5), np.float32))
    with pytest.raises(cr.ShapeError, match=r"3 features.*\(2, 5, 2\)"):
        lstm(np.zeros((2, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 5\]"):
        lstm(np.zeros((2, 5, 3), np.float32), lengths=[6, 2])
    with pytest.raises(cr.ShapeError, match=r"mask must have shape.*\(2, 5\)"):
        lstm(np.zeros((2, 5, 3), np.float32), mask=np.ones((2, 4), bool))
    with pytest.raises(cr.ShapeError, match="initial state"):
        lstm(np.zeros((2, 5, 3), np.float32), initial_state=(np.zeros((1, 3, 4)),) * 2)
    with pytest.raises(cr.ShapeError, match=r"LSTMCell.*\(batch, 3\)"):
        nn.LSTMCell(3, 4)(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="hidden_size"):
        nn.GRU(3, 0)


def test_fused_lstm_scan_matches_the_cell_loop_and_gradchecks(float64):
    from chainrule.nn.kernels import lstm_scan

    fused = nn.LSTM(3, 4, num_layers=2, bidirectional=True, return_state=True)
    loop = nn.LSTM(3, 4, num_layers=2, bidirectional=True, return_state=True, fused=False)
    loop.load_state_dict(fused.state_dict())
    x = rng.standard_normal((2, 5, 3))
    lengths = [5, 3]
    outs = []
    for layer in (fused, loop):
        xt = cr.tensor(x, requires_grad=True)
        y, (h, c) = layer(xt, lengths=lengths)
        (y.sum() + (h * c).sum()).backward()
        outs.append((y.data, h.data, c.data, xt.grad.data,
                     layer._cells[1].weight_hh.grad.data))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, atol=1e-12)
    xw, h0, c0, w = (rng.standard_normal(s) for s in ((2, 4, 12), (2, 3), (2, 3), (12, 3)))
    mask = np.array([[True] * 4, [True, True, False, False]])
    assert cr.gradcheck(lambda *a: lstm_scan(*a, mask=mask), [xw, h0, c0, w])


def test_fused_lstm_refuses_second_order_clearly(float64):
    layer = nn.LSTM(2, 3)
    x = cr.tensor(rng.standard_normal((1, 3, 2)), requires_grad=True)
    with pytest.raises(NotImplementedError, match="fused=False"):
        cr.autograd.engine.grad([layer(x).sum()], [x], create_graph=True)
    slow = nn.LSTM(2, 3, fused=False)
    assert cr.gradgradcheck(lambda x: slow(x), [rng.standard_normal((1, 3, 2))], atol=1e-4)
