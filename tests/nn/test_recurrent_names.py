"""Recurrent layers under PyTorch's parameter names (issue 14 item 15), old checkpoints still
loading, and stateful layers (issue 15: ``stateful=True``, ``reset_states()``)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn

KINDS = ["RNN", "GRU", "LSTM"]


@pytest.fixture
def float64():
    cr.set_default_dtype("float64")
    yield
    cr.set_default_dtype("float32")


def _old_names(state: dict) -> dict:
    """A state dict as checkpoints wrote it before: ``cell_l0.weight_ih``."""
    out = {}
    for k, v in state.items():
        head, _, last = k.rpartition(".")
        prefix = head + "." if head else ""
        name, _, suffix = last.partition("_l")
        out[f"{prefix}cell_l{suffix}.{name}"] = v
    return out


# ----------------------------------------------------------------- PyTorch's names


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bias", [True, False])
def test_names_are_pytorchs(kind, bias):
    torch = pytest.importorskip("torch")
    ours = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, bias=bias)
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, bias=bias)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == list(theirs.state_dict())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_torch_state_dict_loads_as_it_is_and_outputs_agree(kind, bidirectional, float64):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(4, 5, num_layers=2, bidirectional=bidirectional,
                                     batch_first=True).double()
    ours = getattr(nn, kind)(4, 5, num_layers=2, bidirectional=bidirectional,
                             return_state=True)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 7, 4))
    out, state = ours(cr.tensor(x))
    with torch.no_grad():
        out_t, state_t = theirs(torch.tensor(x))
    np.testing.assert_allclose(out.numpy(), out_t.numpy(), rtol=0, atol=1e-10)
    h, h_t = (state[1], state_t[1]) if kind == "LSTM" else (state, state_t)  # c for LSTM
    np.testing.assert_allclose(h.numpy(), h_t.numpy(), rtol=0, atol=1e-10)


# ----------------------------------------------------------------- old checkpoints


class _Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 3)
        self.rnn = nn.LSTM(3, 4, bidirectional=True)
        self.out = nn.Linear(8, 2)

    def forward(self, idx):
        return self.out(self.rnn(self.embed(idx)))


def test_old_checkpoint_names_still_load_with_a_deprecation_warning(tmp_path):
    source, target = _Tagger(), _Tagger()
    old = _old_names({k: v for k, v in source.state_dict().items() if k.startswith("rnn.")})
    old.update({k: v for k, v in source.state_dict().items() if not k.startswith("rnn.")})
    assert "rnn.cell_l0_reverse.weight_hh" in old and "rnn.weight_hh_l0_reverse" not in old
    with pytest.warns(DeprecationWarning, match="old names"):
        target.load_state_dict(old)
    idx = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(target(idx).numpy(), source(idx).numpy())
    # through a checkpoint file, as load_model reads one
    cr.io.save(old, tmp_path / "old.npz")
    again = _Tagger()
    with pytest.warns(DeprecationWarning):
        cr.io.load_weights(tmp_path / "old.npz", again, cr.io.load(tmp_path / "old.npz"))
    np.testing.assert_array_equal(again(idx).numpy(), source(idx).numpy())


def test_an_old_char_lstm_checkpoint_file_loads(tmp_path):
    from chainrule.models import create_model, load_model, save_model

    model = create_model("char-lstm", 12, hidden=8, layers=2, embed=4)
    save_model(model, tmp_path / "new.npz")
    data = cr.io.load(tmp_path / "new.npz")
    rnn = _rnn_keys(data)
    assert "lstm.weight_hh_l1" in rnn  # the new names; write the file as an old version did
    data["model"] = {**{k: v for k, v in data["model"].items() if k not in rnn},
                     **_old_names({k: data["model"][k] for k in rnn})}
    cr.io.save(data, tmp_path / "old.npz")
    with pytest.warns(DeprecationWarning, match="old names"):
        again = load_model(tmp_path / "old.npz")
    for (name, p), (name2, q) in zip(model.named_parameters(), again.named_parameters()):
        assert name == name2
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def _rnn_keys(data: dict) -> set:
    return {k for k in data["model"] if k.rpartition(".")[2].split("_l")[0] in
            ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def test_new_names_load_without_warning_and_cells_share_the_weights():
    a, b = nn.GRU(3, 4, num_layers=2), nn.GRU(3, 4, num_layers=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b.load_state_dict(a.state_dict())
    assert b.cell_l1.weight_hh is b.weight_hh_l1  # the step module uses the layer's weights
    np.testing.assert_array_equal(b.cell_l1.weight_hh.numpy(), a.weight_hh_l1.numpy())


# ----------------------------------------------------------------- stateful layers


@pytest.mark.parametrize("kind", KINDS)
def test_stateful_equals_passing_the_state_by_hand(kind, float64):
    rng = np.random.default_rng(2)
    stateful = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, stateful=True)
    manual = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, return_state=True)
    manual.load_state_dict(stateful.state_dict())
    chunks = [rng.standard_normal((2, 5, 3)) for _ in range(3)]
    state = None
    for x in chunks:
        got = stateful(cr.tensor(x))
        want, state = manual(cr.tensor(x), initial_state=state)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-13)
    stateful.reset_states()  # back to zeros
    np.testing.assert_allclose(stateful(cr.tensor(chunks[0])).numpy(),
                               manual(cr.tensor(chunks[0]))[0].numpy(), rtol=0, atol=1e-13)


def test_stateful_state_is_detached_and_default_is_stateless(float64):
    layer = nn.GRU(2, 3, stateful=True)
    x = cr.tensor(np.ones((1, 4, 2)), requires_grad=True)
    layer(x).sum().backward()
    y = cr.tensor(np.ones((1, 4, 2)), requires_grad=True)
    layer(y).sum().backward()  # no backward into the first call's graph
    assert layer.weight_hh_l0.grad is not None
    plain = nn.GRU(2, 3)
    plain.load_state_dict(layer.state_dict())
    first, second = plain(cr.tensor(np.ones((1, 4, 2)))), plain(cr.tensor(np.ones((1, 4, 2))))
    np.testing.assert_array_equal(first.numpy(), second.numpy())  # stateless by default


def test_stateful_batch_size_must_stay():
    layer = nn.LSTM(2, 3, stateful=True)
    layer(np.zeros((4, 5, 2), dtype=np.float32))
    with pytest.raises(cr.ShapeError, match=r"LSTM\(2, 3.*batch of 3.*state of 4.*reset_states"):
        layer(np.zeros((3, 5, 2), dtype=np.float32))
    layer.reset_states()
    assert layer(np.zeros((3, 5, 2), dtype=np.float32)).shape == (3, 5, 3)


def test_a_model_resets_the_stateful_layers_inside(float64):
    model = nn.Sequential(nn.GRU(2, 3, stateful=True), nn.Linear(3, 1))
    x = cr.tensor(np.ones((2, 4, 2)))
    first = model(x).numpy().copy()
    assert not np.array_equal(model(x).numpy(), first)  # carried state changes the result
    model.reset_states()
    np.testing.assert_array_equal(model(x).numpy(), first)
