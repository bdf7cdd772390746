"""Trainer(compile=True): the same training as the eager step, from one compiled graph."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.random import manual_seed
from chainrule.train import Trainer


def _data(n=96):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 5))
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def _fit(model_fn, compile, epochs=3):
    cr.set_default_dtype(np.float64)
    try:
        manual_seed(0)
        model = model_fn()
        trainer = Trainer(model, nn.CrossEntropyLoss(),
                          optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                          regularizer=lambda m: nn.l2_penalty(m, 1e-3), compile=compile)
        history = trainer.fit(_data(), epochs=epochs, batch_size=32, seed=1, verbose=False)
        return trainer, model, history
    finally:
        cr.set_default_dtype(np.float32)


def _mlp():
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 2))


def test_compiled_training_equals_eager_training():
    t_eager, eager, h_eager = _fit(_mlp, compile=False)
    t_comp, comp, h_comp = _fit(_mlp, compile=True)
    assert t_comp.compile and t_comp._compiled is not None  # it really ran compiled
    assert len(t_comp._compiled.compiled.graphs) == 1  # one batch shape, one graph
    for (name, a), (_, b) in zip(eager.state_dict().items(), comp.state_dict().items()):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-12, atol=1e-14,
                                   err_msg=name)
    np.testing.assert_allclose(h_comp["loss"], h_eager["loss"], rtol=1e-12)
    np.testing.assert_allclose(h_comp["accuracy"], h_eager["accuracy"])


def test_a_model_that_cannot_be_traced_trains_eagerly_after_a_warning():
    def with_batchnorm():  # training-mode BatchNorm updates its running statistics
        return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))

    _, eager, _ = _fit(with_batchnorm, compile=False, epochs=1)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        trainer, comp, _ = _fit(with_batchnorm, compile=True, epochs=1)
    assert not trainer.compile
    assert any("cannot be compiled" in str(w.message) for w in seen)
    for (name, a), (_, b) in zip(eager.state_dict().items(), comp.state_dict().items()):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("compile", [False, True])
def test_compile_flag_is_kept(compile):
    model = _mlp()
    assert Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                   compile=compile).compile is compile
