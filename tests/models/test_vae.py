"""Variational autoencoder: KL, reparameterisation, the ELBO and its scaling, sampling."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import models, nn, optim
from chainrule.data import load_digits
from chainrule.diff.numeric import numeric_gradient
from chainrule.train import Trainer


@pytest.fixture
def float64():
    cr.set_default_dtype("float64")
    yield
    cr.set_default_dtype("float32")


def _np_kl(mu, lv):
    return 0.5 * np.sum(np.exp(lv) + mu ** 2 - 1 - lv, axis=-1)


def _np_bce(logits, x):
    """Binary cross-entropy from logits, per element, written directly."""
    p = 1 / (1 + np.exp(-logits))
    return -(x * np.log(p) + (1 - x) * np.log(1 - p))


def _np_forward(vae, x, eps=None):
    """A NumPy re-implementation of a tanh ``dense_vae`` with one hidden layer."""
    (l1,), (d1, d2) = [m for m in vae.encoder if isinstance(m, nn.Linear)], \
        [m for m in vae.decoder if isinstance(m, nn.Linear)]
    h = np.tanh(x.reshape(len(x), -1) @ l1.weight.data.T + l1.bias.data)
    mu = h @ vae.mu_head.weight.data.T + vae.mu_head.bias.data
    lv = h @ vae.log_var_head.weight.data.T + vae.log_var_head.bias.data
    z = mu if eps is None else mu + np.exp(lv / 2) * eps
    logits = np.tanh(z @ d1.weight.data.T + d1.bias.data) @ d2.weight.data.T + d2.bias.data
    return mu, lv, logits.reshape(x.shape)


def _tiny(seed=0, **kw):
    cr.manual_seed(seed)
    return models.dense_vae((3, 4), hidden=(5,), latent_size=2, activation="tanh", **kw)


def _data(n=6, seed=1):
    return np.random.default_rng(seed).random((n, 3, 4))


def test_gaussian_kl_closed_form_and_zero_at_the_prior():
    rng = np.random.default_rng(0)
    mu, lv = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(models.gaussian_kl(mu, lv).data, _np_kl(mu, lv), rtol=1e-12)
    np.testing.assert_allclose(models.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 3))).data, 0)
    assert cr.gradcheck(lambda m, v: models.gaussian_kl(m, v), [mu, lv])


def test_reparameterisation_gradcheck_with_fixed_eps():
    rng = np.random.default_rng(0)
    mu, lv, eps = rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    z = models.reparameterize(mu, lv, eps)
    np.testing.assert_allclose(z.data, mu + np.exp(lv / 2) * eps, rtol=1e-12)
    assert cr.gradcheck(lambda m, v: models.reparameterize(m, v, eps), [mu, lv])


def test_forward_kl_and_modes(float64):
    vae = _tiny()
    x = _data()
    vae.eval()
    logits = vae(x)
    mu, lv, ref_logits = _np_forward(vae, x)
    np.testing.assert_allclose(logits.data, ref_logits, rtol=1e-10)
    np.testing.assert_allclose(vae.kl_divergence().data, _np_kl(mu, lv), rtol=1e-10)
    np.testing.assert_array_equal(vae(x).data, logits.data)  # eval: z = mu, deterministic
    vae.train()
    cr.manual_seed(5)
    sampled = vae(x).data
    eps = np.random.default_rng(5).standard_normal((6, 2))  # what manual_seed(5) draws
    np.testing.assert_allclose(sampled, _np_forward(vae, x, eps)[2], rtol=1e-10)
    assert not np.allclose(vae(x).data, sampled)  # a fresh eps per training forward


def test_regularization_scaling_gives_negative_elbo_per_pixel(float64):
    vae = _tiny()
    x = _data()
    cr.manual_seed(2)
    out = vae(x)
    total = nn.BCEWithLogitsLoss()(out, x) + vae.regularization()
    eps = np.random.default_rng(2).standard_normal((6, 2))
    mu, lv, logits = _np_forward(vae, x, eps)
    neg_elbo = np.mean(_np_bce(logits, x).reshape(6, -1).sum(axis=1) + _np_kl(mu, lv))
    assert total.item() == pytest.approx(neg_elbo / 12, rel=1e-10)
    assert vae.regularization().item() == pytest.approx(np.mean(_np_kl(mu, lv)) / 12,
                                                        rel=1e-10)


def test_negative_elbo_against_numpy(float64):
    vae = _tiny()
    x = _data(n=7)
    mu, lv, logits = _np_forward(vae, x)
    ref_mean = np.mean(_np_bce(logits, x).reshape(7, -1).sum(axis=1) + _np_kl(mu, lv))
    assert vae.negative_elbo(x, sample=False) == pytest.approx(ref_mean, rel=1e-10)
    eps = np.random.default_rng(4).standard_normal((7, 2))
    mu, lv, logits = _np_forward(vae, x, eps)
    ref_one = np.mean(_np_bce(logits, x).reshape(7, -1).sum(axis=1) + _np_kl(mu, lv))
    assert vae.negative_elbo(x, seed=4) == pytest.approx(ref_one, rel=1e-10)
    assert vae.negative_elbo(x) == vae.negative_elbo(x)  # seed=0 by default: repeatable
    assert vae.training  # the mode is restored


def test_whole_vae_gradients_with_a_fixed_eps(float64):
    """d(loss)/dx by gradcheck and d(loss)/dW by finite differences, the same eps each
    call (the library RNG reseeded), through the sampling step."""
    vae = _tiny()
    target = _data(n=3, seed=7)

    def loss(x):
        cr.manual_seed(11)
        return nn.BCEWithLogitsLoss()(vae(x), target) + vae.regularization()

    x = _data(n=3)
    assert cr.gradcheck(loss, [x], check_jvp=False)
    for p in (vae.log_var_head.weight, vae.encoder[1].weight, vae.decoder[2].bias):
        vae.zero_grad()
        loss(x).backward()

        def at(v, p=p):
            saved = p.data.copy()
            p.data[...] = v
            value = float(loss(x).item())
            p.data[...] = saved
            return value

        np.testing.assert_allclose(p.grad.data, numeric_gradient(at, p.data), rtol=1e-6,
                                   atol=1e-10)


def test_numpy_helpers_shapes_and_ranges():
    vae = models.dense_vae((28, 28), latent_size=10)
    x = np.random.default_rng(0).random((5, 28, 28)).astype(np.float32)
    assert vae(x).shape == (5, 28, 28) and vae.kl_divergence().shape == (5,)
    mu, lv = vae.encode(x)
    assert mu.shape == lv.shape == (5, 10)
    assert vae.sample_latent(x, seed=0).shape == (5, 10)
    np.testing.assert_array_equal(vae.sample_latent(x, seed=0), vae.sample_latent(x, seed=0))
    rec = vae.reconstruct(x)
    assert rec.shape == (5, 28, 28) and 0 <= rec.min() and rec.max() <= 1
    vae.eval()
    np.testing.assert_allclose(rec, 1 / (1 + np.exp(-vae(x).data)), rtol=1e-5)
    images = vae.generate(4, seed=3)
    assert images.shape == (4, 28, 28) and 0 <= images.min() and images.max() <= 1
    np.testing.assert_array_equal(images, vae.generate(4, seed=3))
    z = np.random.default_rng(3).standard_normal((4, 10))
    np.testing.assert_allclose(vae.decode(z), images, rtol=1e-6)


@pytest.mark.parametrize("shape", [(28, 28), 784, (1, 28, 28)])
def test_dense_vae_input_shapes(shape):
    vae = models.dense_vae(shape, hidden=(8,), latent_size=3)
    x = np.zeros((2, *((shape,) if isinstance(shape, int) else shape)), np.float32)
    assert vae(x).shape == x.shape and vae.pixels == 784


@pytest.mark.parametrize("shape", [(1, 28, 28), (28, 28), 64, (3, 7, 5)])
def test_conv_vae_shapes(shape):
    vae = models.conv_vae(shape, channels=(4, 8), latent_size=3)
    x = np.random.default_rng(0).random((2, *((shape,) if isinstance(shape, int) else shape)))
    out = vae(x.astype(np.float32))
    assert out.shape == x.shape and vae.mu.shape == (2, 3)
    assert vae.generate(2, seed=0).shape == (2, *x.shape[1:])


@pytest.mark.parametrize("call, match", [
    (lambda: models.dense_vae(latent_size=0),
     "dense_vae: latent_size must be a positive integer, got 0"),
    (lambda: models.dense_vae(latent_size=-2),
     "dense_vae: latent_size must be a positive integer, got -2"),
    (lambda: models.dense_vae(hidden=(150, 0)),
     r"dense_vae: hidden\[1\] must be a positive integer, got 0"),
    (lambda: models.dense_vae(activation="nope"), "dense_vae: unknown activation 'nope'"),
    (lambda: models.conv_vae(latent_size=0),
     "conv_vae: latent_size must be a positive integer, got 0"),
    (lambda: models.conv_vae((1, 2, 2), channels=(4, 4, 4)),
     "conv_vae: 2×2 images cannot be halved 3 times"),
    (lambda: models.VAE(nn.Identity(), nn.Identity(), 4, 0, (2,)),
     "VAE: latent_size must be a positive integer, got 0"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_kl_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="no forward pass yet"):
        _tiny().regularization()


def test_training_lowers_the_negative_elbo():
    x, _ = load_digits()
    x = (x[:256] / 16.0).astype(np.float32)
    cr.manual_seed(0)
    vae = models.dense_vae(64, hidden=(32,), latent_size=4)
    before = vae.negative_elbo(x)
    trainer = Trainer(vae, nn.BCEWithLogitsLoss(), optim.Adam(vae.parameters(), lr=3e-3),
                      metrics=(), regularizer=lambda m: m.regularization())
    history = trainer.fit((x, x), epochs=25, batch_size=32, seed=0, verbose=False)
    after = vae.negative_elbo(x)
    assert after < 0.6 * before
    # the logged loss is the negative ELBO per pixel (a single-sample estimate per batch)
    assert history["loss"][-1] * 64 == pytest.approx(after, rel=0.1)


def test_kl_and_reparameterisation_second_order():
    rng = np.random.default_rng(2)
    mu, lv, eps = rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    assert cr.gradgradcheck(lambda m, v: models.gaussian_kl(m, v), [mu, lv])
    assert cr.gradgradcheck(lambda m, v: models.reparameterize(m, v, eps), [mu, lv])
