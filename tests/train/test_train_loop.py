"""One training loop: train_step overrides, a model's own step, the step callbacks (budget,
periodic validation, best weights), the LR finder and sample grids through the Trainer, and
the GAN and the character LM giving the seeded results they gave before the Trainer ran
them (numbers recorded from the previous loops)."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.models import (
    GAN,
    dcgan_discriminator,
    dcgan_generator,
    dense_discriminator,
    dense_generator,
)
from chainrule.models.charlm import CharLMConfig, train_charlm
from chainrule.random import manual_seed
from chainrule.train import (
    BestModel,
    Budget,
    LRFinder,
    PeriodicEvaluation,
    SampleGrid,
    Trainer,
    fit_gan,
)


def _regression(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)


def _linear(seed: int = 0) -> tuple[nn.Module, optim.Optimizer]:
    manual_seed(seed)
    model = nn.Linear(3, 1)
    return model, optim.SGD(model.parameters(), lr=0.05)


def test_a_subclass_overrides_train_step():
    class Doubled(Trainer):
        """Two optimizer steps per batch; reports its own values."""

        def train_step(self, batch):
            first = super().train_step(batch)
            second = super().train_step(batch)
            return {"first": first["loss"], "second": second["loss"]}

    model, opt = _linear()
    history = Doubled(model, nn.MSELoss(), opt, metrics=()).fit(
        _regression(), epochs=2, batch_size=16, seed=0, verbose=False)
    assert len(history["first"]) == 2 and "time" in history.history
    assert history["second"][0] < history["first"][0]


def test_a_model_with_its_own_train_step_needs_no_loss_or_optimizer():
    class Counter:
        def __init__(self) -> None:
            self.seen: list[int] = []

        def train_step(self, x, y):
            self.seen.append(len(x))
            return {"batch_mean": float(np.mean(y)), "size": len(x)}

    x = np.arange(10, dtype=np.float32)[:, None]
    model = Counter()
    history = Trainer(model, metrics=()).fit((x, x[:, 0]), epochs=1, batch_size=4,
                                             shuffle=False, verbose=False)
    assert model.seen == [4, 4, 2]
    assert history["batch_mean"] == [pytest.approx(4.5)]  # weighted by "size"


def test_budget_ends_training_after_the_steps_and_needs_a_limit():
    model, opt = _linear()
    trainer = Trainer(model, nn.MSELoss(), opt, metrics=())
    budget = Budget(steps=7)
    trainer.fit(_regression(), epochs=None, batch_size=16, callbacks=[budget], verbose=False)
    assert trainer.global_step == budget.steps_done == 7
    with pytest.raises(ValueError, match="epochs=None"):
        trainer.fit(_regression(), epochs=None, verbose=False)
    with pytest.raises(ValueError, match="steps or minutes"):
        Budget()


def test_periodic_evaluation_and_best_model_restore_the_best_weights():
    model, opt = _linear()
    x, y = _regression()
    scores = iter([3.0, 1.0, 2.0, 5.0])  # the second validation is the best
    saved = []
    check = PeriodicEvaluation(3, lambda m: {"val_loss": next(scores)})
    best = BestModel("val_loss", save=lambda m: saved.append(m.weight.data.copy()))
    Trainer(model, nn.MSELoss(), opt, metrics=()).fit(
        (x, y), epochs=None, batch_size=16, verbose=False,
        callbacks=[check, best, Budget(steps=10)])
    assert check.history["step"] == [3.0, 6.0, 9.0, 10.0]  # and once more at the end
    assert set(check.history) == {"step", "seconds", "train_loss", "val_loss"}
    assert best.best == 1.0 and len(saved) == 2  # 3.0, then the better 1.0
    np.testing.assert_array_equal(model.weight.data, saved[-1])


def test_lr_finder_callback_matches_find_lr_and_restores_everything():
    x, y = _regression(n=160)
    from chainrule.data import ArrayDataset, DataLoader

    loader = DataLoader(ArrayDataset(x, y), batch_size=16)
    model, opt = _linear()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    expected = optim.find_lr(model, nn.MSELoss(), opt, loader, start_lr=1e-4, end_lr=10.0,
                             num_steps=25)
    got = Trainer(model, nn.MSELoss(), opt, metrics=()).find_lr(
        loader, start_lr=1e-4, end_lr=10.0, num_steps=25)
    assert got.lrs == expected.lrs and got.diverged == expected.diverged
    np.testing.assert_allclose(got.losses, expected.losses, rtol=1e-6)
    assert got.suggested_lr == expected.suggested_lr
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert opt.param_groups[0]["lr"] == 0.05
    with pytest.raises(ValueError, match="num_steps"):
        LRFinder(num_steps=1)


def test_sample_grid_is_a_trainer_callback(tmp_path):
    pytest.importorskip("matplotlib")
    manual_seed(0)
    gan = GAN(dcgan_generator(6, (1, 8, 8), channels=(8, 4)),
              dcgan_discriminator((1, 8, 8), channels=(4, 8)))
    grid = SampleGrid(tmp_path / "grid-{epoch}.png", n=4, ncols=2)
    x = np.random.default_rng(0).uniform(-1, 1, (16, 1, 8, 8)).astype(np.float32)
    Trainer(gan).fit((x,), epochs=2, batch_size=8, callbacks=[grid], verbose=False)
    assert [p.name for p in grid.paths] == ["grid-1.png", "grid-2.png"]


# --------------------------------------------------------------------------- same numbers


def test_gan_through_the_trainer_gives_the_previous_seeded_results():
    data = np.random.default_rng(0).uniform(-1, 1, (40, 1, 8, 8)).astype(np.float32)
    manual_seed(5)
    gan = GAN(dcgan_generator(6, (1, 8, 8), channels=(8, 4), num_classes=3),
              dcgan_discriminator((1, 8, 8), channels=(4, 8), num_classes=3))
    h = fit_gan(gan, data, np.arange(40) % 3, epochs=2, batch_size=16, seed=7, verbose=False)
    np.testing.assert_allclose(h["g_loss"], [0.735992819070816, 0.6745874285697937], rtol=1e-5)
    np.testing.assert_allclose(h["d_loss"], [0.7118573784828186, 0.7050924897193909],
                               rtol=1e-5)
    assert float(np.sum(gan.sample(5, labels=1, seed=0) ** 2)) == pytest.approx(
        1.9816640615463257, rel=1e-5)
    # fewer samples than a batch, no seed in fit: one batch of all of them per epoch
    manual_seed(3)
    gan = GAN(dense_generator(4, (3,), hidden=(6,)), dense_discriminator((3,), hidden=(5,)))
    h = gan.fit(data.reshape(40, -1)[:10, :3], epochs=3, batch_size=16, verbose=False)
    np.testing.assert_allclose(h["g_loss"], [0.8105212450027466, 0.6529015302658081,
                                             0.7192651033401489], rtol=1e-5)


def test_char_lm_through_the_trainer_gives_the_previous_seeded_results():
    text = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n"
            "Speak, speak.\n") * 40
    cfg = CharLMConfig(hidden=16, layers=2, embed=8, seq=10, batch=4, eval_every=7, lr=1e-2,
                       lr_decay=0.9)  # 130 steps: about two epochs, with the lr decay
    model, _, hist = train_charlm(text, cfg, steps=130, log=None)
    assert hist["steps"] == 130 and hist["step"][-3:] == [119.0, 126.0, 130.0]
    np.testing.assert_allclose(hist["val_loss"][:3], [3.2897029876708985, 3.1492759704589846,
                                                      3.084027862548828], rtol=1e-5)
    np.testing.assert_allclose(hist["val_loss"][-2:], [1.6927370071411132,
                                                       1.6391883850097657], rtol=1e-5)
    np.testing.assert_allclose(hist["train_loss"][-2:], [1.6246668440955025,
                                                         1.5117681622505188], rtol=1e-5)
    assert hist["best_val"] == pytest.approx(1.6391883850097657, rel=1e-5)
    weights = sum(np.sum(v.astype(np.float64) ** 2) for v in model.state_dict().values())
    assert weights == pytest.approx(791.0850597076451, rel=1e-5)
