"""Test surfaces and optimizer walks live in chainrule.optim.surfaces (pictures of them in
chainrule.viz.descent, which re-exports the same objects)."""

import numpy as np
import pytest

import chainrule.linear as linear
import chainrule.optim as optim
from chainrule.optim import surfaces as S
from chainrule.viz import descent as D


def test_one_object_under_every_name():
    for name in ("SURFACES", "Surface", "SurfacePath", "compare_optimizers", "get_surface",
                 "optimize_surface", "surface_names"):
        assert getattr(D, name) is getattr(S, name) is getattr(optim, name), name
    assert D.OPTIMIZERS is optim.OPTIMIZERS
    assert D.make_optimizer is S.make_optimizer
    assert D.regression_surface is linear.regression_surface
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        D.nothing  # noqa: B018


def test_regression_is_registered_by_linear():
    assert "regression" in S.surface_names()
    surf = S.get_surface("regression")
    np.testing.assert_allclose(surf.minima[0], linear.normal_equation(*linear.book_data()))
    assert surf.start == tuple(np.random.RandomState(42).randn(2))


def test_register_surface(monkeypatch):
    monkeypatch.setattr(S, "_BUILDERS", dict(S._BUILDERS))
    S.register_surface("bowl", lambda: S.SURFACES["quadratic"])
    assert "bowl" in S.surface_names()
    assert S.get_surface("bowl") is S.SURFACES["quadratic"]
    with pytest.raises(ValueError, match="built-in"):
        S.register_surface("beale", lambda: S.SURFACES["beale"])


def test_defaults_are_the_surfaces_learning_rates_and_any_registry_name_works():
    walks = S.compare_optimizers("quadratic", steps=3)
    assert [w.optimizer for w in walks.values()] == list(S.SURFACES["quadratic"].lrs)
    walk = S.optimize_surface("quadratic", "NAdam", lr=0.2, steps=200)
    assert walk.label == "NAdam lr=0.2" and walk.gap < 1e-3
    with pytest.raises(ValueError, match="no default learning rate for 'nadam'"):
        S.optimize_surface("quadratic", "nadam")
