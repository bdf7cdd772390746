"""GANs: builders, the conditional interface, discriminator freezing in the generator step,
label smoothing, determinism, checkpoints, sample grids and a small training run that
moves the generator's distribution onto the data's."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.autograd import no_grad
from chainrule.models import (
    GAN,
    Discriminator,
    Generator,
    dcgan_discriminator,
    dcgan_generator,
    dense_discriminator,
    dense_generator,
)
from chainrule.models.gan import frozen
from chainrule.nn import functional as F
from chainrule.optim import Adam
from chainrule.random import manual_seed
from chainrule.train import SampleGrid


def bce(logits: np.ndarray, target: np.ndarray | float) -> float:
    """Binary cross-entropy from logits in float64, the textbook formula made stable."""
    z = np.asarray(logits, dtype=np.float64)
    t = np.broadcast_to(np.asarray(target, dtype=np.float64), z.shape)
    return float(np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))))


def tiny_dense(num_classes: int = 0, seed: int = 0, smoothing: float = 0.0) -> GAN:
    manual_seed(seed)
    g = dense_generator(4, (3,), hidden=(6,), num_classes=num_classes, output="linear")
    d = dense_discriminator((3,), hidden=(5,), num_classes=num_classes)
    return GAN(g, d, label_smoothing=smoothing)


def tiny_dcgan(num_classes: int = 0, seed: int = 0) -> GAN:
    manual_seed(seed)
    g = dcgan_generator(6, (1, 8, 8), channels=(8, 4), num_classes=num_classes, kernel_size=4)
    d = dcgan_discriminator((1, 8, 8), channels=(4, 8), num_classes=num_classes, kernel_size=3)
    return GAN(g, d)


def z_batch(n: int, size: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, size)).astype(np.float32)


# --------------------------------------------------------------------------- builders


@pytest.mark.parametrize("num_classes", [0, 10])
def test_dense_shapes(num_classes):
    g = dense_generator(num_classes=num_classes)
    d = dense_discriminator(num_classes=num_classes)
    labels = np.arange(5) % 10 if num_classes else None
    x = g(z_batch(5, 30), labels)
    assert x.shape == (5, 1, 28, 28)
    assert np.all(np.abs(x.data) <= 1)  # tanh output
    assert d(x, labels).shape == (5,)
    # the discriminator takes any layout with 784 values per sample
    assert d(x.data.reshape(5, 784), labels).shape == (5,)
    assert d(x.data.reshape(5, 28, 28), labels).shape == (5,)


@pytest.mark.parametrize("num_classes", [0, 10])
def test_dcgan_shapes(num_classes):
    g = dcgan_generator(16, (1, 28, 28), channels=(8, 4), num_classes=num_classes)
    d = dcgan_discriminator((1, 28, 28), channels=(4, 8), num_classes=num_classes)
    labels = np.arange(3) if num_classes else None
    x = g(z_batch(3, 16), labels)
    assert x.shape == (3, 1, 28, 28)
    assert d(x, labels).shape == (3,)
    # the first conv layer sees the one-hot label as extra channels
    assert d.body[0].in_channels == 1 + num_classes


@pytest.mark.parametrize("kernel_size", [2, 3, 4, 5])
def test_dcgan_generator_doubles_exactly_for_any_kernel(kernel_size):
    g = dcgan_generator(5, (3, 16, 24), channels=(4, 4, 2), kernel_size=kernel_size)
    assert g(z_batch(2, 5)).shape == (2, 3, 16, 24)
    d = dcgan_discriminator((3, 16, 24), channels=(4,), kernel_size=kernel_size)
    assert d(g(z_batch(2, 5))).shape == (2,)


def test_dense_generator_any_sample_shape():
    g = dense_generator(2, (2,), hidden=(4,), output="linear")
    assert g(z_batch(7, 2)).shape == (7, 2)
    assert dense_discriminator((2,), hidden=(3,))(np.zeros((7, 2), np.float32)).shape == (7,)


def test_parameter_counts_by_hand():
    # Géron's dense GAN on MNIST: 30 -> 100 -> 150 -> 784 and 784 -> 150 -> 100 -> 1
    assert dense_generator().num_parameters() == (30 * 100 + 100) + (100 * 150 + 150) + \
        (150 * 784 + 784)
    assert dense_discriminator().num_parameters() == (784 * 150 + 150) + (150 * 100 + 100) + \
        (100 + 1)
    # conditioning adds one input row per class to the first layer
    assert dense_generator(num_classes=10).num_parameters() == 136_634 + 10 * 100
    assert dense_discriminator(num_classes=10).num_parameters() == 132_951 + 10 * 150
    # DCGAN: Dense 100 -> 128*7*7, BN(128), ConvT 128->64 5x5 (no bias: BN follows),
    # BN(64), ConvT 64->1 5x5 with bias
    assert dcgan_generator().num_parameters() == (100 * 6272 + 6272) + 2 * 128 + \
        128 * 64 * 25 + 2 * 64 + (64 * 25 + 1) == 840_257
    # Conv 1->64 5x5, Conv 64->128 5x5, Dense 128*7*7 -> 1
    assert dcgan_discriminator().num_parameters() == (25 * 64 + 64) + (64 * 128 * 25 + 128) + \
        (6272 + 1)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("builder", [dense_generator, dcgan_generator])
@pytest.mark.parametrize("latent", [0, -3, 2.5, True])
def test_latent_size_must_be_positive(builder, latent):
    with pytest.raises(ValueError, match=f"{builder.__name__}: latent_size must be a positive "
                                         f"integer, got {latent!r}"):
        builder(latent_size=latent)


def test_dcgan_generator_rejects_image_sizes_it_cannot_produce():
    with pytest.raises(ValueError, match=r"dcgan_generator: cannot produce images of shape "
                                         r"\(1, 30, 30\).*divisible by 2\*\*len\(channels\) = 4"):
        dcgan_generator(image_shape=(1, 30, 30))
    with pytest.raises(ValueError, match=r"height 28 and width 28 must be divisible by "
                                         r"2\*\*len\(channels\) = 8"):
        dcgan_generator(image_shape=(28, 28), channels=(8, 8, 8))
    with pytest.raises(ValueError, match="dcgan_generator"):
        dcgan_generator(image_shape=(1, 2, 3, 4))
    with pytest.raises(ValueError, match="dcgan_discriminator: cannot read a flat input"):
        dcgan_discriminator(image_shape=(50,))


@pytest.mark.parametrize("call, match", [
    (lambda: dense_generator(image_shape=(1, 0, 28)), "dense_generator: image_shape"),
    (lambda: dense_discriminator(hidden=(10, 0)), r"dense_discriminator: hidden\[1\]"),
    (lambda: dense_generator(activation="swoosh"), "unknown activation 'swoosh'"),
    (lambda: dense_generator(output="softmax"), "unknown output 'softmax'"),
    (lambda: dcgan_discriminator(dropout=1.0), r"dropout must be in \[0, 1\)"),
    (lambda: dcgan_generator(num_classes=-1), "num_classes must be an integer >= 0"),
    (lambda: dcgan_generator(kernel_size=1), "kernel_size must be >= 2"),
    (lambda: GAN(dense_generator(), dense_discriminator(), label_smoothing=1.0),
     "label_smoothing"),
    (lambda: GAN(dense_generator(num_classes=10), dense_discriminator()),
     "discriminator has num_classes=0 but the GAN has num_classes=10"),
    (lambda: GAN(dense_generator(), dense_discriminator(), latent_size=5),
     "latent_size=5 but the generator takes latent_size=30"),
])
def test_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_generator_and_discriminator_check_input_shapes():
    g, d = dense_generator(4, (3,), hidden=(5,)), dense_discriminator((3,), hidden=(5,))
    with pytest.raises(ValueError, match=r"expected z of shape \(N, 4\), got \(2, 5\)"):
        g(z_batch(2, 5))
    with pytest.raises(ValueError, match="expected samples .* with 3 values each"):
        d(np.zeros((2, 4), np.float32))


# --------------------------------------------------------------------------- conditioning


def test_conditional_labels_are_checked():
    cond, plain = tiny_dense(num_classes=3), tiny_dense()
    real = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"conditional \(num_classes=3\): pass labels"):
        cond.train_step(real)
    with pytest.raises(ValueError, match=r"unconditional \(num_classes=0\) but labels"):
        plain.train_step(real, np.zeros(4, int))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        cond.train_step(real, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        cond.train_step(real, np.array([0, 1]))
    with pytest.raises(ValueError, match="labels must be integers"):
        cond.sample(4, labels=np.ones(4))
    with pytest.raises(ValueError, match="Generator is conditional"):
        cond.generator(z_batch(2, 4))
    with pytest.raises(ValueError, match="Discriminator is unconditional"):
        plain.discriminator(real, np.zeros(4, int))


@pytest.mark.parametrize("make", [tiny_dense, tiny_dcgan])
def test_the_label_changes_both_networks(make):
    gan = make(num_classes=3)
    z = z_batch(5, gan.latent_size)
    with no_grad():
        a = gan.generator(z, 0).data
        b = gan.generator(z, np.full(5, 2)).data
        assert not np.allclose(a, b)
        np.testing.assert_array_equal(gan.generator(z, [0] * 5).data, a)  # int = whole batch
        gan.discriminator.eval()
        assert not np.allclose(gan.discriminator(a, 0).data, gan.discriminator(a, 1).data)
    logs = gan.train_step(b, np.full(5, 2))
    assert np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"])
    assert gan.sample(4, labels=1).shape == (4, *gan.generator.sample_shape)


# --------------------------------------------------------------------------- the two steps


def test_generator_step_freezes_the_discriminator_but_backpropagates_through_it():
    gan = tiny_dense()
    z = z_batch(8, 4)
    g_params, d_params = gan.generator.parameters(), gan.discriminator.parameters()
    # reference: the generator's gradient of BCE(D(G(z)), 1) with nothing frozen
    loss = F.binary_cross_entropy_with_logits(gan.discriminator(gan.generator(z)),
                                              np.ones(8, np.float32))
    loss.backward()
    expected = [p.grad.data.copy() for p in g_params]
    gan.generator.zero_grad()
    gan.discriminator.zero_grad()
    d_before = [p.data.copy() for p in d_params]

    logs = gan.generator_step(8, z=z)

    assert logs["g_loss"] == pytest.approx(float(loss.item()), rel=1e-6)
    for p, want in zip(g_params, expected):  # gradients flowed through D into G
        assert p.grad is not None and np.abs(p.grad.data).sum() > 0
        np.testing.assert_allclose(p.grad.data, want, rtol=1e-5, atol=1e-7)
    for p, before in zip(d_params, d_before):  # ... but D got none and did not move
        assert p.grad is None
        np.testing.assert_array_equal(p.data, before)
        assert p.requires_grad  # and is trainable again


def test_freezing_is_undone_after_errors_and_keeps_earlier_flags(monkeypatch):
    gan = tiny_dense()
    already = gan.discriminator.parameters()[0]
    already.requires_grad = False

    def broken(x):
        assert not any(p.requires_grad for p in gan.discriminator.parameters())
        raise RuntimeError("boom")

    monkeypatch.setattr(gan.discriminator.body, "forward", broken)
    with pytest.raises(RuntimeError, match="boom"):
        gan.generator_step(4)
    flags = [p.requires_grad for p in gan.discriminator.parameters()]
    assert flags == [False] + [True] * (len(flags) - 1)
    with frozen(gan.generator):
        assert not any(p.requires_grad for p in gan.generator.parameters())
    assert all(p.requires_grad for p in gan.generator.parameters())


def test_train_step_updates_both_networks_and_restores_requires_grad():
    gan = tiny_dcgan()
    g0 = [p.data.copy() for p in gan.generator.parameters()]
    d0 = [p.data.copy() for p in gan.discriminator.parameters()]
    logs = gan.train_step(np.random.default_rng(0).uniform(-1, 1, (6, 1, 8, 8)))
    assert set(logs) == {"d_loss", "g_loss", "d_acc_real", "d_acc_fake", "d_real", "d_fake"}
    assert all(0 <= logs[k] <= 1 for k in ("d_acc_real", "d_acc_fake", "d_real", "d_fake"))
    assert all(not np.array_equal(a, p.data) for a, p in zip(g0, gan.generator.parameters()))
    assert all(not np.array_equal(a, p.data)
               for a, p in zip(d0, gan.discriminator.parameters()))
    assert all(p.requires_grad for p in gan.discriminator.parameters())


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_label_smoothing_sets_the_real_target_of_the_discriminator_only(smoothing):
    gan = tiny_dense(smoothing=smoothing)
    real = np.random.default_rng(2).standard_normal((6, 3)).astype(np.float32)
    z = z_batch(6, 4)
    with no_grad():
        fake = gan.generator(z).data
        real_logits = gan.discriminator(real).data
        fake_logits = gan.discriminator(fake).data
    want = (bce(real_logits, 1 - smoothing) + bce(fake_logits, 0.0)) / 2
    logs = gan.discriminator_step(real, z=z)
    assert logs["d_loss"] == pytest.approx(want, rel=1e-5)
    if smoothing:  # a different number than the unsmoothed loss
        assert abs(want - (bce(real_logits, 1.0) + bce(fake_logits, 0.0)) / 2) > 1e-3
    # the generator's target stays 1
    z2 = z_batch(6, 4, seed=3)
    with no_grad():
        logits = gan.discriminator(gan.generator(z2)).data
    assert gan.generator_step(6, z=z2)["g_loss"] == pytest.approx(bce(logits, 1.0), rel=1e-5)


# --------------------------------------------------------------------------- fit / sample


def test_fit_is_deterministic_with_a_seed_and_calls_callbacks():
    data = np.random.default_rng(0).uniform(-1, 1, (40, 1, 8, 8)).astype(np.float32)
    labels = np.arange(40) % 3

    def run():
        gan = tiny_dcgan(num_classes=3, seed=5)
        seen = []
        history = gan.fit(data, labels, epochs=2, batch_size=16, seed=7, verbose=False,
                          callbacks=[lambda epoch, g, logs: seen.append((epoch, g, logs))])
        return gan, history, seen

    gan1, h1, seen = run()
    gan2, h2, _ = run()
    assert set(h1.history) == {"d_loss", "g_loss", "d_acc_real", "d_acc_fake", "d_real",
                               "d_fake", "time"}
    for key in set(h1.history) - {"time"}:
        assert h1[key] == h2[key] and len(h1[key]) == 2
    np.testing.assert_array_equal(gan1.sample(5, labels=1, seed=0),
                                  gan2.sample(5, labels=1, seed=0))
    assert [e for e, _, _ in seen] == [0, 1] and seen[0][1] is gan1
    assert seen[1][2]["g_loss"] == h1["g_loss"][1]


def test_fit_stops_when_asked_and_warns_about_unscaled_data():
    manual_seed(0)
    gan = GAN(dense_generator(4, (3,), hidden=(6,)), dense_discriminator((3,), hidden=(5,)))
    data = np.random.default_rng(0).uniform(0, 255, (20, 3)).astype(np.float32)

    def stop(epoch, g, logs):
        g.stop_training = True

    with pytest.warns(UserWarning, match=r"real data lies in \[.*\] but the generator's "
                                         r"outputs lie in \[-1, 1\]"):
        history = gan.fit(data, epochs=5, batch_size=8, callbacks=[stop], verbose=False)
    assert len(history) == 1


def test_sample_uses_eval_mode_and_leaves_batchnorm_statistics_alone():
    gan = tiny_dcgan()
    gan.train_step(np.random.default_rng(0).uniform(-1, 1, (6, 1, 8, 8)))
    stats = [b.copy() for _, b in gan.generator.named_buffers()]
    a = gan.sample(7, seed=3)
    b = gan.sample(7, seed=3, batch_size=2)  # eval-mode BN: independent of the batching
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert a.shape == (7, 1, 8, 8) and np.all(np.abs(a) <= 1)
    assert all(np.array_equal(s, b) for s, (_, b) in zip(stats, gan.generator.named_buffers()))
    assert gan.generator.training and gan.discriminator.training
    with pytest.raises(ValueError, match=r"z must have shape \(7, 6\)"):
        gan.sample(7, z=np.zeros((7, 5)))
    z = np.random.default_rng(3).standard_normal((7, 6))
    np.testing.assert_array_equal(gan.generate(z), a)  # the same latent vectors
    probs = gan.discriminate(a)
    assert probs.shape == (7,) and np.all((probs > 0) & (probs < 1))


def test_state_dict_round_trip_through_a_file(tmp_path):
    gan = tiny_dcgan(num_classes=2, seed=0)
    data = np.random.default_rng(0).uniform(-1, 1, (8, 1, 8, 8))
    gan.train_step(data, np.arange(8) % 2)
    gan.save(tmp_path / "gan.npz", epoch=3)
    other = tiny_dcgan(num_classes=2, seed=1)
    z = z_batch(4, 6)
    assert not np.allclose(other.sample(4, 1, z=z), gan.sample(4, 1, z=z))
    extra = other.load(tmp_path / "gan.npz")
    assert extra["epoch"] == 3
    np.testing.assert_array_equal(other.sample(4, 1, z=z), gan.sample(4, 1, z=z))
    assert other.g_optimizer.state_dict()["state"][0]["step"] == 1
    # both continue identically
    manual_seed(9)
    a = gan.train_step(data, np.arange(8) % 2)
    manual_seed(9)
    b = other.train_step(data, np.arange(8) % 2)
    assert a == b
    with pytest.raises(ValueError, match="no 'discriminator' entry"):
        other.load_state_dict({"generator": gan.state_dict()["generator"]})


def test_sample_grid_writes_one_picture_per_epoch(tmp_path):
    pytest.importorskip("matplotlib")
    from chainrule.data import load_digits

    x, y = load_digits()
    x, y = (x[:48] / 8 - 1).reshape(48, 8, 8), y[:48]  # pixel counts 0..16 -> [-1, 1]
    gan = tiny_dcgan(num_classes=10)
    grid = SampleGrid(tmp_path / "samples-{epoch:02d}.png", n=20, seed=0)
    gan.fit(x, y, epochs=2, batch_size=16, seed=0, callbacks=[grid], verbose=False)
    assert [p.name for p in grid.paths] == ["samples-01.png", "samples-02.png"]
    assert all(p.stat().st_size > 0 for p in grid.paths)
    z = grid.z.copy()
    grid(2, gan, {})
    np.testing.assert_array_equal(grid.z, z)  # the same latent batch every epoch


def test_custom_networks_plug_in():
    from chainrule import nn

    g = Generator(nn.Sequential(nn.Linear(3, 4), nn.Tanh()), latent_size=3, sample_shape=(2, 2))
    d = Discriminator(nn.Sequential(nn.Linear(4, 1)), sample_shape=(2, 2))
    gan = GAN(g, d)
    assert gan.latent_size == 3 and gan.num_classes == 0
    assert gan.sample(3).shape == (3, 2, 2)
    gan.train_step(np.zeros((5, 4), np.float32))


# --------------------------------------------------------------------------- it learns


def test_training_moves_the_generated_distribution_onto_the_data():
    """A 2-D Gaussian N((2, -1), diag(0.5, 0.25)^2): the generated mean starts ~2 away and
    ends close; the spread neither collapses nor explodes."""
    mean, std = np.array([2.0, -1.0]), np.array([0.5, 0.25])
    data = (mean + std * np.random.default_rng(0).standard_normal((1024, 2))).astype(np.float32)
    manual_seed(0)
    g = dense_generator(4, (2,), hidden=(16, 16), output="linear", activation="relu")
    d = dense_discriminator((2,), hidden=(16, 16), activation="leaky_relu")
    gan = GAN(g, d, g_optimizer=Adam(g.parameters(), 1e-3, betas=(0.5, 0.999)),
              d_optimizer=Adam(d.parameters(), 1e-3, betas=(0.5, 0.999)))
    before = gan.sample(2000, seed=0)
    gan.fit(data, epochs=60, batch_size=128, seed=0, verbose=False)
    after = gan.sample(2000, seed=0)
    assert np.linalg.norm(before.mean(0) - mean) > 1.5
    assert np.linalg.norm(after.mean(0) - mean) < 0.4
    ratio = after.std(0) / std
    assert np.all((ratio > 0.6) & (ratio < 2.5)), ratio
