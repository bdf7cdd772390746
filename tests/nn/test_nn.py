"""chainrule.nn: modules, layers, initialisers, losses — against closed forms and PyTorch."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.random import manual_seed

rng = np.random.default_rng(0)


def test_summary_of_the_textbook_mlp():
    model = nn.Sequential(nn.Flatten(), nn.Dense(784, 300), nn.ReLU(), nn.Dense(300, 100),
                          nn.ReLU(), nn.Dense(100, 10))
    s = model.summary((28, 28), print_fn=None)
    assert s.total_params == 266_610 and s.trainable_params == 266_610
    assert [r.output_shape for r in s.rows][-1] == (1, 10)
    assert "266,610" in str(s)


def test_summary_counts_buffers_as_non_trainable():
    s = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).summary((4,), print_fn=None)
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (27, 21, 6)


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 2)
        self.dec = nn.Linear(2, 4)
        self.dec.weight = self.enc.weight  # same Parameter twice

    def forward(self, x):
        return F.linear(F.linear(x, self.enc.weight, self.enc.bias), self.enc.weight.T)


def test_registration_and_shared_parameters():
    m = Tied()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["enc.weight", "enc.bias", "dec.bias"]  # shared weight listed once
    x = cr.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    m(x).sum().backward()
    assert m.enc.weight.grad.shape == (2, 4)


def test_train_eval_and_freeze():
    m = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    m.eval()
    assert not m[1].training
    x = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(m(x).data, m(x).data)  # dropout off in eval
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_state_dict_round_trip_through_io(tmp_path):
    manual_seed(0)
    a = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    a(np.ones((5, 3), dtype=np.float32))  # moves running stats
    cr_io = pytest.importorskip("chainrule.io")
    cr_io.save(a.state_dict(), tmp_path / "m.npz")
    b = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    b.load_state_dict(cr_io.load(tmp_path / "m.npz"))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va, vb)


def test_load_state_dict_says_what_does_not_fit():
    m = nn.Sequential(nn.Linear(3, 4))
    state = {"0.weight": np.zeros((3, 4), np.float32), "0.extra": np.zeros(1)}
    with pytest.raises(ValueError) as e:
        m.load_state_dict(state)
    msg = str(e.value)
    assert "0.bias" in msg and "0.extra" in msg and "(4, 3)" in msg


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 3)
    with pytest.raises(cr.ShapeError, match=r"Linear\(4, 2\).*\(3, 5\)"):
        nn.Linear(4, 2)(np.ones((3, 5), np.float32))
    with pytest.raises(cr.ShapeError, match="BatchNorm1d"):
        nn.BatchNorm1d(3)(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match="unknown initializer"):
        nn.Linear(2, 2, init="glorot")
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("name,fn,shape", [
    ("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     [(6, 3), (3,), (3,)]),
    ("batch_norm_3d", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     [(4, 3, 5), (3,), (3,)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    ("huber", lambda p, t: F.huber_loss(p, t, delta=0.7), [(5,), (5,)]),
    ("bce_logits", lambda z, y: F.binary_cross_entropy_with_logits(z, cr.sigmoid(y)),
     [(4,), (4,)]),
    ("cross_entropy_smooth", lambda z: F.cross_entropy(z, np.array([1, 0, 2]),
                                                       label_smoothing=0.1), [(3, 3)]),
    ("nll", lambda z: F.nll_loss(cr.log_softmax(z), np.array([1, 0])), [(2, 3)]),
])
def test_functional_gradients_first_and_second_order(name, fn, shape):
    inputs = [rng.uniform(-1, 1, s) for s in shape]
    assert cr.gradcheck(fn, inputs)
    assert cr.gradgradcheck(fn, inputs, atol=1e-4)


def test_dropout_is_inverted_and_mc_dropout_works():
    manual_seed(0)
    x = np.ones((200, 500), dtype=np.float32)
    y = F.dropout(x, 0.3).data
    assert abs((y == 0).mean() - 0.3) < 0.01
    assert abs(y.mean() - 1.0) < 0.02
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.7)}
    m = nn.Sequential(nn.Dropout(0.5)).eval()
    with nn.mc_dropout(m):
        assert (m(x).data == 0).any()
    assert not (m(x).data == 0).any()


def test_alpha_dropout_keeps_mean_and_variance():
    manual_seed(1)
    x = cr.tensor(np.random.default_rng(2).standard_normal((400, 500)).astype(np.float32))
    y = F.alpha_dropout(cr.selu(x), 0.2).data
    ref = cr.selu(x).data
    assert abs(y.mean() - ref.mean()) < 0.02 and abs(y.std() - ref.std()) < 0.02


# ----------------------------------------------------------------------------- init


def test_fans_and_init_variances():
    assert nn.init.fans((300, 784)) == (784, 300)
    assert nn.init.fans((16, 8, 3, 3)) == (72, 144)
    w = nn.Parameter(np.empty((400, 600), np.float32))
    nn.init.xavier_uniform_(w, rng=np.random.default_rng(0))
    assert abs(w.data.var() - 2 / 1000) / (2 / 1000) < 0.05
    nn.init.kaiming_normal_(w, rng=np.random.default_rng(0))
    assert abs(w.data.var() - 2 / 600) / (2 / 600) < 0.05
    nn.init.lecun_normal_(w, rng=np.random.default_rng(0))
    assert abs(w.data.var() - 1 / 600) / (1 / 600) < 0.05
    q = nn.Parameter(np.empty((5, 8), np.float64))
    nn.init.orthogonal_(q, rng=np.random.default_rng(0))
    np.testing.assert_allclose(q.data @ q.data.T, np.eye(5), atol=1e-12)


def test_seeded_models_are_identical():
    manual_seed(7)
    a = nn.Linear(5, 3)
    manual_seed(7)
    b = nn.Linear(5, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


def test_penalties_and_max_norm():
    m = nn.Sequential(nn.Linear(3, 2))
    m[0].weight.data[...] = [[3.0, 4.0, 0.0], [0.3, 0.4, 0.0]]
    assert nn.l2_penalty(m, 0.5).item() == pytest.approx(0.5 * (25 + 0.25))
    assert nn.l1_penalty(m, 1.0).item() == pytest.approx(7.7)
    nn.max_norm_(m, 1.0)
    np.testing.assert_allclose(np.linalg.norm(m[0].weight.data, axis=1), [1.0, 0.5], rtol=1e-6)


# ----------------------------------------------------------------------------- PyTorch oracle


def test_batchnorm_matches_torch():
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((8, 3)).astype(np.float32)
    ours = nn.BatchNorm1d(3)
    theirs = torch.nn.BatchNorm1d(3)
    for _ in range(3):
        y = ours(x)
        yt = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), atol=1e-6)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ours,theirs,kind", [
    (nn.MSELoss(), "MSELoss", "reg"), (nn.L1Loss(reduction="sum"), "L1Loss", "reg"),
    (nn.HuberLoss(delta=0.5), "HuberLoss", "reg"),
    (nn.CrossEntropyLoss(label_smoothing=0.2), "CrossEntropyLoss", "cls"),
    (nn.CrossEntropyLoss(), "CrossEntropyLoss", "probs"),
    (nn.BCEWithLogitsLoss(), "BCEWithLogitsLoss", "bin"),
])
def test_losses_match_torch(ours, theirs, kind):
    torch = pytest.importorskip("torch")
    z = rng.standard_normal((6, 4))
    if kind == "reg":
        t = rng.standard_normal((6, 4))
    elif kind == "cls":
        t = rng.integers(0, 4, 6)
    elif kind == "probs":
        t = np.exp(rng.standard_normal((6, 4)))
        t /= t.sum(1, keepdims=True)
    else:
        t = rng.integers(0, 2, (6, 4)).astype(np.float64)
    kwargs = {"reduction": ours.reduction}
    if theirs == "HuberLoss":
        kwargs["delta"] = 0.5
    if kind == "cls":
        kwargs["label_smoothing"] = 0.2
    ref_fn = getattr(torch.nn, theirs)(**kwargs)
    zt = torch.tensor(z, requires_grad=True)
    ref = ref_fn(zt, torch.tensor(t))
    ref.backward()
    x = cr.tensor(z, requires_grad=True)
    loss = ours(x, t)
    loss.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-10)
    np.testing.assert_allclose(x.grad.data, zt.grad.numpy(), rtol=1e-9, atol=1e-12)
