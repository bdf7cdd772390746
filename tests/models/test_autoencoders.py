"""Autoencoders: shapes, tied weights, noise, sparsity penalties, training, errors, PyTorch."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import models, nn, optim
from chainrule.autograd.ops import ShapeError
from chainrule.data import load_digits
from chainrule.diff.numeric import numeric_gradient
from chainrule.train import Trainer


@pytest.fixture
def float64():
    cr.set_default_dtype("float64")
    yield
    cr.set_default_dtype("float32")


def _batch(shape, n=3, seed=0):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return np.random.default_rng(seed).random((n, *shape)).astype(np.float32)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ----------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 28), 784, (8, 8), 64])
@pytest.mark.parametrize("tied", [False, True])
def test_dense_autoencoder_round_trips_every_input_shape(shape, tied):
    ae = models.dense_autoencoder(shape, hidden=(20, 10), code_size=4, tied=tied)
    x = _batch(shape)
    out = ae(x)
    assert out.shape == x.shape
    assert ae.codes.shape == (3, 4) and ae.code_size == 4
    assert ae.encode(x).shape == (3, 4)
    assert ae.decode(np.zeros((2, 4))).shape == (2, *x.shape[1:])
    rec = ae.reconstruct(x)
    assert rec.shape == x.shape and isinstance(rec, np.ndarray)
    assert rec.min() >= 0 and rec.max() <= 1  # sigmoid output
    assert ae.input_shape == ((shape,) if isinstance(shape, int) else shape)


@pytest.mark.parametrize("shape, channels", [((1, 28, 28), (16, 32)), ((28, 28), (4, 4, 4)),
                                             (784, (4,)), ((3, 7, 5), (2, 3)),
                                             ((1, 9, 6), (2, 2, 2))])
@pytest.mark.parametrize("code_size", [None, 5])
def test_conv_autoencoder_reconstructs_exact_size(shape, channels, code_size):
    ae = models.conv_autoencoder(shape, channels, code_size=code_size)
    x = _batch(shape, n=2)
    assert ae(x).shape == x.shape
    assert ae.encode(x).shape == (2, *ae.code_shape)
    # every transposed convolution restores the size its mirror convolution received
    convs = [m for m in ae.encoder.modules() if isinstance(m, nn.Conv2d)]
    ups = [m for m in ae.decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == len(ups) == len(channels)
    assert all(m.stride == (2, 2) for m in convs + ups)


def test_conv_autoencoder_layer_sizes_by_hand():
    ae = models.conv_autoencoder((1, 28, 28), (8, 16, 32), code_size=None)
    h = cr.tensor(_batch((1, 28, 28), n=1))
    sizes = []
    for m in ae.encoder:
        h = m(h)
        if isinstance(m, nn.Conv2d):
            sizes.append(h.shape[2:])
    assert sizes == [(14, 14), (7, 7), (4, 4)]
    assert ae.code_shape == (32, 4, 4)
    for m in ae.decoder:
        h = m(h)
        if isinstance(m, nn.ConvTranspose2d):
            sizes.append(h.shape[2:])
    assert sizes[3:] == [(7, 7), (14, 14), (28, 28)]


def test_dlfs_conv_autoencoder_shapes_and_init():
    ae = models.dlfs_conv_autoencoder(hidden_dim=28)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 1, 28, 28)).astype(np.float32)
    out = ae(x)
    assert out.shape == (2, 1, 28, 28) and ae.codes.shape == (2, 28)
    assert np.abs(out.data).max() <= 1
    # PyTorch default init: U(±1/sqrt(fan_in)) for weights and biases
    lin = ae.encoder[5]
    bound = 1 / math.sqrt(7 * 28 * 28)
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.bias.data).max() <= bound
    assert np.abs(lin.weight.data).max() > 0.9 * bound
    conv = ae.encoder[0]
    assert np.abs(conv.bias.data).max() <= 1 / 5 and np.abs(conv.bias.data).max() > 0.1
    expected = (1 * 14 * 25 + 14) + (14 * 7 * 25 + 7) + (5488 * 28 + 28) + (28 * 5488 + 5488) \
        + (7 * 14 * 25 + 14) + (14 * 1 * 25 + 1)
    assert ae.num_parameters() == expected


# ----------------------------------------------------------------------------- tied weights


def test_tied_parameter_count_halves_the_weights_exactly():
    kw = dict(input_shape=(8, 8), hidden=(20, 10), code_size=3)
    untied = models.dense_autoencoder(**kw)
    tied = models.dense_autoencoder(tied=True, **kw)
    weights = 64 * 20 + 20 * 10 + 10 * 3
    enc_biases, dec_biases = 20 + 10 + 3, 10 + 20 + 64
    assert untied.num_parameters() == 2 * weights + enc_biases + dec_biases
    assert tied.num_parameters() == weights + enc_biases + dec_biases


def test_tied_layers_share_the_parameter_object():
    ae = models.dense_autoencoder((8, 8), hidden=(6,), code_size=2, tied=True)
    enc = [m for m in ae.encoder if isinstance(m, nn.Linear)]
    dec = [m for m in ae.decoder if isinstance(m, nn.TiedLinear)]
    assert dec[0].weight is enc[1].weight and dec[1].weight is enc[0].weight
    assert (dec[0].in_features, dec[0].out_features) == (2, 6)
    names = [n for n, _ in ae.named_parameters()]
    assert len(names) == len(set(id(p) for p in ae.parameters())) == 2 + 2 + 2
    assert "encoder.1.weight" in names and "decoder.0.weight" not in names
    assert "decoder.0.bias" in names


def test_tied_state_dict_round_trip_keeps_the_tie():
    cr.manual_seed(0)
    a = models.dense_autoencoder((8, 8), hidden=(6,), code_size=2, tied=True)
    cr.manual_seed(1)
    b = models.dense_autoencoder((8, 8), hidden=(6,), code_size=2, tied=True)
    state = {k: v.copy() for k, v in a.state_dict().items()}
    assert set(state) == {n for n, _ in a.named_parameters()}
    b.load_state_dict(state)
    x = _batch((8, 8))
    np.testing.assert_array_equal(a(x).data, b(x).data)
    assert b.decoder[0].weight is b.encoder[3].weight  # still tied after loading


def test_tied_linear_forward_is_x_times_w():
    lin = nn.Linear(5, 3)
    t = nn.TiedLinear(lin)
    t.bias.data[...] = np.arange(5)
    x = _batch(3, n=4)
    np.testing.assert_allclose(t(x).data, x @ lin.weight.data + np.arange(5), rtol=1e-6)
    assert nn.TiedLinear(lin, bias=False).num_parameters() == 15
    with pytest.raises(TypeError, match="TiedLinear"):
        nn.TiedLinear(nn.Conv2d(1, 1, 3))
    with pytest.raises(ShapeError, match=r"TiedLinear\(3, 5.*expected input \(\.\.\., 3\)"):
        t(np.zeros((2, 5)))


def test_tied_gradient_is_the_sum_of_both_uses(float64):
    """Against an untied twin whose decoder weight is a copy of the encoder's transpose,
    and against central finite differences on the shared weight."""
    cr.manual_seed(3)
    tied = models.dense_autoencoder(5, hidden=(), code_size=3, activation="tanh", tied=True)
    untied = models.dense_autoencoder(5, hidden=(), code_size=3, activation="tanh")
    enc_t, dec_t = tied.encoder[1], tied.decoder[0]
    enc_u, dec_u = untied.encoder[1], untied.decoder[0]
    dec_t.bias.data[...] = np.random.default_rng(1).normal(size=5)
    enc_u.weight.data[...] = enc_t.weight.data
    enc_u.bias.data[...] = enc_t.bias.data
    dec_u.weight.data[...] = enc_t.weight.data.T
    dec_u.bias.data[...] = dec_t.bias.data
    x = np.random.default_rng(2).random((4, 5))
    loss_fn = nn.MSELoss()
    for m in (tied, untied):
        loss_fn(m(x), x).backward()
    np.testing.assert_allclose(untied(x).data, tied(x).data, rtol=1e-12)
    expected = enc_u.weight.grad.data + dec_u.weight.grad.data.T
    np.testing.assert_allclose(enc_t.weight.grad.data, expected, rtol=1e-10, atol=1e-14)
    assert tied.num_parameters() == 15 + 3 + 5

    w = enc_t.weight

    def loss_at(wv):
        saved = w.data.copy()
        w.data[...] = wv
        value = float(loss_fn(tied(x), x).item())
        w.data[...] = saved
        return value

    np.testing.assert_allclose(w.grad.data, numeric_gradient(loss_at, w.data), rtol=1e-6,
                               atol=1e-9)


def test_tied_linear_gradcheck():
    """x, the shared weight and the bias all gradchecked (first order, both modes)."""
    rng = np.random.default_rng(0)
    lin = nn.Linear(4, 3, dtype=np.float64)
    x, w, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)
    assert cr.gradcheck(lambda x, w, b: _tied_apply(lin, x, w, b), [x, w, b])


def _tied_apply(lin, x, w, b):
    """TiedLinear.forward with the (shared) weight and bias swapped for the inputs."""
    t = nn.TiedLinear(lin)
    object.__setattr__(t, "weight", w)
    object.__setattr__(t, "bias", b)
    return t(x)


# ----------------------------------------------------------------------------- denoising


def test_gaussian_noise_train_and_eval():
    layer = nn.GaussianNoise(0.3)
    x = np.full((400, 500), 2.0, np.float32)
    cr.manual_seed(0)
    noisy = layer(x).data
    assert noisy.dtype == np.float32
    assert abs(noisy.mean() - 2.0) < 0.005 and abs(noisy.std() - 0.3) < 0.003
    cr.manual_seed(0)
    np.testing.assert_array_equal(layer(x).data, noisy)  # draws from the library RNG
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, x)
    np.testing.assert_array_equal(nn.GaussianNoise(0.0)(x).data, x)
    with pytest.raises(ValueError, match="GaussianNoise: stddev must be .* got -0.1"):
        nn.GaussianNoise(-0.1)


def test_gaussian_noise_gradient_is_identity():
    x = cr.tensor(np.ones((3, 4)), requires_grad=True)
    (nn.GaussianNoise(1.0)(x) * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((3, 4), 3.0))


def test_denoising_input_corruption_only_in_training():
    ae = models.dense_autoencoder((8, 8), hidden=(16,), code_size=4, noise=0.2, dropout=0.5)
    kinds = [type(m).__name__ for m in ae.encoder]
    assert kinds[:3] == ["Flatten", "GaussianNoise", "Dropout"]
    x = np.ones((50, 8, 8), np.float32)
    cr.manual_seed(0)
    corrupted = ae.encoder[2](ae.encoder[1](ae.encoder[0](x))).data
    dropped = corrupted == 0
    assert 0.45 < dropped.mean() < 0.55
    kept = corrupted[~dropped]
    assert abs(kept.mean() - 2.0) < 0.05  # inverted dropout: (1 + noise) / (1 - p)
    assert abs(kept.std() - 0.4) < 0.03
    ae.train()
    assert not np.array_equal(ae(x).data, ae(x).data)
    np.testing.assert_array_equal(ae.reconstruct(x), ae.reconstruct(x))
    assert ae.training  # reconstruct restores the mode


# ----------------------------------------------------------------------------- sparsity


def _np_kl(codes, t, w, eps=1e-7):
    m = np.clip(codes.mean(axis=0), eps, 1 - eps)
    return w * np.sum(t * np.log(t / m) + (1 - t) * np.log((1 - t) / (1 - m)))


def test_l1_activity_against_numpy_and_gradcheck():
    codes = np.random.default_rng(0).normal(size=(6, 5))
    value = models.l1_activity(codes, 1e-3).item()
    assert value == pytest.approx(1e-3 * np.abs(codes).sum() / 6, rel=1e-12)
    assert cr.gradcheck(lambda c: models.l1_activity(c, 0.5), [codes])


def test_kl_sparsity_against_numpy_and_gradcheck():
    codes = _sigmoid(np.random.default_rng(0).normal(size=(8, 5)) - 1)
    value = models.kl_sparsity(codes, 0.1, 5e-3).item()
    assert value == pytest.approx(_np_kl(codes, 0.1, 5e-3), rel=1e-10)
    # zero exactly when every mean activation equals the target
    assert models.kl_sparsity(np.full((4, 3), 0.2), 0.2, 1.0).item() == pytest.approx(0,
                                                                                       abs=1e-12)
    assert cr.gradcheck(lambda c: models.kl_sparsity(c, 0.1, 1.0), [codes])
    # saturated codes stay finite
    assert np.isfinite(models.kl_sparsity(np.zeros((2, 3)), 0.1, 1.0).item())


def test_kl_sparsity_bad_input():
    with pytest.raises(ValueError, match=r"kl_sparsity: codes must be activations in \[0, 1\]"):
        models.kl_sparsity(np.array([[-0.5, 0.2]]))
    with pytest.raises(ValueError, match="kl_sparsity: target must be in"):
        models.kl_sparsity(np.array([[0.5]]), target=1.0)
    with pytest.raises(ValueError, match="l1_activity: weight"):
        models.l1_activity(np.ones((2, 2)), -1.0)


@pytest.mark.parametrize("spec, expected", [
    (("l1", 1e-3), lambda c: 1e-3 * np.abs(c).sum() / len(c)),
    (models.L1Sparsity(2e-3), lambda c: 2e-3 * np.abs(c).sum() / len(c)),
    (("kl", 0.1, 5e-3), lambda c: _np_kl(c, 0.1, 5e-3)),
    (models.KLSparsity(0.2, 1e-2), lambda c: _np_kl(c, 0.2, 1e-2)),
    (lambda c: (c * c).sum(), lambda c: (c * c).sum()),
])
def test_autoencoder_regularization_is_the_penalty_on_the_last_codes(spec, expected):
    ae = models.dense_autoencoder((8, 8), hidden=(12,), code_size=5, sparsity=spec,
                                  code_activation="sigmoid")
    ae(_batch((8, 8), n=7))
    codes = ae.codes.data.astype(np.float64)
    assert ae.regularization().item() == pytest.approx(expected(codes), rel=1e-4)


def test_regularization_without_sparsity_is_zero_and_sparsity_errors():
    ae = models.dense_autoencoder((8, 8), hidden=(), code_size=2)
    assert ae.regularization().item() == 0.0
    sparse = models.dense_autoencoder((8, 8), code_size=2, sparsity=("l1", 1e-3))
    with pytest.raises(RuntimeError, match="no forward pass yet"):
        sparse.regularization()
    with pytest.raises(ValueError, match="code_activation='sigmoid'"):
        models.dense_autoencoder(sparsity=("kl", 0.1, 5e-3))
    with pytest.raises(ValueError, match="dense_autoencoder: sparsity must be"):
        models.dense_autoencoder(sparsity=("l2", 1e-3))
    with pytest.raises(ValueError, match="dense_autoencoder: bad sparsity"):
        models.dense_autoencoder(sparsity=("kl", 1.5), code_activation="sigmoid")


def test_sparse_training_through_trainer_lowers_the_mean_activation():
    x = _batch(16, n=64, seed=1)
    cr.manual_seed(0)
    ae = models.dense_autoencoder(16, hidden=(), code_size=20, code_activation="sigmoid",
                                  sparsity=("kl", 0.05, 0.5))
    before = ae.encode(x).mean()
    trainer = Trainer(ae, nn.MSELoss(), optim.Adam(ae.parameters(), lr=1e-2), metrics=(),
                      regularizer=lambda m: m.regularization())
    trainer.fit((x, x), epochs=30, batch_size=32, verbose=False, seed=0)
    after = ae.encode(x).mean()
    assert after < before and abs(after - 0.05) < 0.05


# ----------------------------------------------------------------------------- training


def test_dense_autoencoder_learns_the_digits():
    x, _ = load_digits()
    x = (x[:200] / 16.0).astype(np.float32)
    cr.manual_seed(0)
    ae = models.dense_autoencoder(64, hidden=(32,), code_size=8, activation="relu")
    opt = optim.Adam(ae.parameters(), lr=3e-3)
    loss_fn = nn.MSELoss()

    def mse():
        return float(np.mean((ae.reconstruct(x) - x) ** 2))

    start = mse()
    rng = np.random.default_rng(0)
    for _ in range(300):
        batch = x[rng.integers(0, len(x), 32)]
        opt.zero_grad()
        loss_fn(ae(batch), batch).backward()
        opt.step()
    end = mse()
    baseline = float(np.mean((x - x.mean(axis=0)) ** 2))  # predicting the mean image
    assert end < 0.25 * start and end < 0.75 * baseline


def test_logits_output_is_squashed_by_reconstruct_and_decode():
    ae = models.dense_autoencoder((8, 8), hidden=(), code_size=3, output="logits")
    assert ae.logits and not isinstance(ae.decoder[-2], nn.Sigmoid)
    x = _batch((8, 8))
    ae.eval()
    logits = ae(x).data
    np.testing.assert_allclose(ae.reconstruct(x), _sigmoid(logits), rtol=1e-5)
    np.testing.assert_allclose(ae.decode(ae.encode(x)), _sigmoid(logits), rtol=1e-5)
    tanh_ae = models.dense_autoencoder((8, 8), code_size=3, output="tanh")
    assert isinstance(tanh_ae.decoder[-2], nn.Tanh)


def test_numpy_helpers_record_no_graph_and_restore_modes():
    ae = models.dense_autoencoder((8, 8), hidden=(4,), code_size=2, dropout=0.3)
    ae.train()
    ae.encoder[2].eval()  # a module in its own mode stays so
    codes = ae.encode(_batch((8, 8)))
    assert isinstance(codes, np.ndarray)
    assert ae.training and not ae.encoder[2].training
    x = _batch((8, 8), n=10)
    np.testing.assert_allclose(ae.reconstruct(x, batch_size=3), ae.reconstruct(x), rtol=1e-6)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, match", [
    (lambda: models.dense_autoencoder(code_size=0),
     "dense_autoencoder: code_size must be a positive integer, got 0"),
    (lambda: models.dense_autoencoder(code_size=-3),
     "dense_autoencoder: code_size must be a positive integer, got -3"),
    (lambda: models.dense_autoencoder(hidden=(100, 0)),
     r"dense_autoencoder: hidden\[1\] must be a positive integer, got 0"),
    (lambda: models.dense_autoencoder(activation="swishy"),
     "dense_autoencoder: unknown activation 'swishy'"),
    (lambda: models.dense_autoencoder(output="softmax"),
     "dense_autoencoder: unknown output 'softmax'"),
    (lambda: models.dense_autoencoder(noise=-0.5),
     r"dense_autoencoder: noise .* got -0.5"),
    (lambda: models.dense_autoencoder(dropout=1.0),
     r"dense_autoencoder: dropout must be in \[0, 1\), got 1.0"),
    (lambda: models.dense_autoencoder(input_shape=(28, 0)),
     r"dense_autoencoder: input_shape must be positive integers"),
    (lambda: models.conv_autoencoder((1, 4, 4), channels=(8, 8, 8)),
     r"conv_autoencoder: 4×4 images cannot be halved 3 times \(4×4 → 2×2 → 1×1.*at most 2"),
    (lambda: models.conv_autoencoder((1, 2, 16), channels=(8, 8)),
     r"conv_autoencoder: 2×16 images cannot be halved 2 times"),
    (lambda: models.conv_autoencoder(60), "conv_autoencoder: cannot read a flat input of 60"),
    (lambda: models.conv_autoencoder(channels=()), "conv_autoencoder: channels must name"),
    (lambda: models.conv_autoencoder(code_size=0),
     "conv_autoencoder: code_size must be a positive integer, got 0"),
    (lambda: models.conv_autoencoder(channels=(16, -1)),
     r"conv_autoencoder: channels\[1\] must be a positive integer, got -1"),
    (lambda: models.dlfs_conv_autoencoder(0),
     "dlfs_conv_autoencoder: hidden_dim must be a positive integer, got 0"),
])
def test_builders_name_what_does_not_fit(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- PyTorch


def test_dlfs_conv_autoencoder_matches_torch_forward_and_gradients(float64):
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    cr.manual_seed(0)
    ours = models.dlfs_conv_autoencoder(hidden_dim=6)

    class TorchAE(tnn.Module):
        def __init__(self):
            super().__init__()
            self.enc = tnn.Sequential(tnn.Conv2d(1, 14, 5, padding=2), tnn.Tanh(),
                                      tnn.Conv2d(14, 7, 5, padding=2), tnn.Tanh(),
                                      tnn.Flatten(), tnn.Linear(7 * 28 * 28, 6), tnn.Tanh())
            self.dec1 = tnn.Sequential(tnn.Linear(6, 7 * 28 * 28), tnn.Tanh())
            self.dec2 = tnn.Sequential(tnn.Conv2d(7, 14, 5, padding=2), tnn.Tanh(),
                                       tnn.Conv2d(14, 1, 5, padding=2), tnn.Tanh())

        def forward(self, x):
            return self.dec2(self.dec1(self.enc(x)).view(-1, 7, 28, 28))

    theirs = TorchAE().double()
    pairs = [(ours.encoder[0], theirs.enc[0]), (ours.encoder[2], theirs.enc[2]),
             (ours.encoder[5], theirs.enc[5]), (ours.decoder[0], theirs.dec1[0]),
             (ours.decoder[3], theirs.dec2[0]), (ours.decoder[5], theirs.dec2[2])]
    with torch.no_grad():
        for a, b in pairs:
            b.weight.copy_(torch.from_numpy(a.weight.data))
            b.bias.copy_(torch.from_numpy(a.bias.data))
    x = np.random.default_rng(0).uniform(-1, 1, (2, 1, 28, 28))
    out = ours(x)
    nn.MSELoss()(out, x).backward()
    xt = torch.from_numpy(x)
    out_t = theirs(xt)
    tnn.functional.mse_loss(out_t, xt).backward()
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in pairs:
        np.testing.assert_allclose(a.weight.grad.data, b.weight.grad.numpy(), rtol=1e-7,
                                   atol=1e-12)
        np.testing.assert_allclose(a.bias.grad.data, b.bias.grad.numpy(), rtol=1e-7,
                                   atol=1e-12)


def test_summary_counts_a_tied_weight_once_and_rows_add_up() -> None:
    from chainrule.models import dense_autoencoder

    model = dense_autoencoder((28, 28), hidden=(100,), code_size=30, tied=True)
    summary = model.summary((28, 28))
    # encoder: 784*100+100 and 100*30+30; the tied decoder layers add their biases only
    assert [r.params for r in summary.rows if r.params] == [78_500, 3_030, 100, 784]
    assert sum(r.params for r in summary.rows) == summary.total_params == 82_414


def test_tied_linear_and_sparsity_penalties_second_order():
    """Second derivatives (reverse-over-reverse and forward-over-reverse) of the new layer
    and penalties, against central differences."""
    rng = np.random.default_rng(1)
    lin = nn.Linear(4, 3, dtype=np.float64)
    x, w, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)
    assert cr.gradgradcheck(lambda x, w, b: _tied_apply(lin, x, w, b), [x, w, b])
    codes = _sigmoid(rng.normal(size=(8, 5)) - 1)
    assert cr.gradgradcheck(lambda c: models.kl_sparsity(c, 0.1, 1.0), [codes])
    assert cr.gradgradcheck(lambda c: models.l1_activity(c, 0.5), [codes])
