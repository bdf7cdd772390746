"""cross_entropy / nll_loss (weight, ignore_index, reduction, label_smoothing) and
binary_cross_entropy against PyTorch, and their gradchecks to second order."""

import numpy as np
import pytest
from torch_oracle import checks, compare

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

rng = np.random.default_rng(2)
DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none"]
C = 5


def r(*shape):
    return rng.standard_normal(shape)


def labels(n, ignore=False):
    y = rng.integers(0, C, n)
    if ignore:
        y[::3] = -100
    return y


WEIGHT = np.array([0.5, 2.0, 1.0, 0.1, 3.0])
CE_CASES = [  # (weight, ignore, label_smoothing)
    (None, False, 0.0), (WEIGHT, False, 0.0), (None, True, 0.0), (WEIGHT, True, 0.0),
    (None, False, 0.2), (WEIGHT, True, 0.3), (None, True, 1.0), (WEIGHT, False, 1.0),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("w,ignore,ls", CE_CASES)
def test_cross_entropy_class_indices_match_torch(w, ignore, ls, reduction, dtype):
    torch = pytest.importorskip("torch")
    y = labels(7, ignore)
    tw = None if w is None else torch.tensor(w.astype(dtype))
    compare(lambda z: F.cross_entropy(z, y, w, reduction=reduction, label_smoothing=ls),
            lambda z: torch.nn.functional.cross_entropy(z, torch.tensor(y), tw,
                                                        reduction=reduction,
                                                        label_smoothing=ls),
            [r(7, C)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("w,ls", [(None, 0.0), (None, 0.25), (WEIGHT, 0.0), (WEIGHT, 0.4),
                                  (None, 1.0)])
def test_cross_entropy_soft_targets_get_their_gradient(w, ls, reduction, dtype):
    """Issue 23, bug 1: label smoothing must not cut the target's gradient."""
    torch = pytest.importorskip("torch")
    t = rng.random((6, C))
    t /= t.sum(-1, keepdims=True)
    tw = None if w is None else torch.tensor(w.astype(dtype))
    compare(lambda z, t: F.cross_entropy(z, t, w, reduction=reduction, label_smoothing=ls),
            lambda z, t: torch.nn.functional.cross_entropy(z, t, tw, reduction=reduction,
                                                           label_smoothing=ls),
            [r(6, C), t], dtype)


@pytest.mark.parametrize("w,ignore,ls", CE_CASES)
def test_cross_entropy_gradchecks(w, ignore, ls):
    y = labels(4, ignore)
    checks(lambda z: F.cross_entropy(z, y, w, label_smoothing=ls), [r(4, C)])
    t = rng.random((3, C))
    checks(lambda z, t: F.cross_entropy(z, t, w, label_smoothing=ls), [r(3, C), t])


def test_cross_entropy_keeps_the_fused_kernel_for_the_common_case(monkeypatch):
    from chainrule.autograd import ops

    calls = []
    fused = ops.softmax_cross_entropy
    monkeypatch.setattr(ops, "softmax_cross_entropy",
                        lambda *a: calls.append(1) or fused(*a))
    z, y = r(4, C), labels(4)
    F.cross_entropy(z, y)
    F.cross_entropy(z, y, label_smoothing=0.1)
    assert len(calls) == 2
    F.cross_entropy(z, y, WEIGHT)  # the general path
    assert len(calls) == 2


def test_cross_entropy_legacy_positional_reduction_still_works():
    z, y = r(4, C), labels(4)
    np.testing.assert_allclose(F.cross_entropy(z, y, "sum").data,
                               F.cross_entropy(z, y, reduction="sum").data)
    np.testing.assert_allclose(nn.CrossEntropyLoss("sum", 0.1)(z, y).data,
                               F.cross_entropy(z, y, reduction="sum",
                                               label_smoothing=0.1).data)
    np.testing.assert_allclose(F.nll_loss(z, y, "none").data,
                               F.nll_loss(z, y, reduction="none").data)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("w,ignore", [(None, False), (WEIGHT, False), (None, True),
                                      (WEIGHT, True)])
def test_nll_loss_matches_torch(w, ignore, reduction, dtype):
    torch = pytest.importorskip("torch")
    y = labels(7, ignore)
    tw = None if w is None else torch.tensor(w.astype(dtype))
    compare(lambda lp: F.nll_loss(lp, y, w, reduction=reduction),
            lambda lp: torch.nn.functional.nll_loss(lp, torch.tensor(y), tw,
                                                    reduction=reduction),
            [r(7, C)], dtype)
    checks(lambda lp: F.nll_loss(lp, y, w, reduction=reduction) ** 2, [r(7, C)])


def test_nll_loss_ignore_index_custom_and_all_ignored():
    torch = pytest.importorskip("torch")
    y = np.array([1, 3, 3, 0])
    compare(lambda lp: F.nll_loss(lp, y, ignore_index=3),
            lambda lp: torch.nn.functional.nll_loss(lp, torch.tensor(y), ignore_index=3),
            [r(4, C)])
    y = np.full(3, -100)
    ours = F.nll_loss(r(3, C), y)
    theirs = torch.nn.functional.nll_loss(torch.tensor(r(3, C)), torch.tensor(y))
    assert np.isnan(ours.data) and np.isnan(theirs.item())


def test_losses_layers_match_torch():
    torch = pytest.importorskip("torch")
    z, y = r(6, C), labels(6, True)
    pairs = [
        (nn.CrossEntropyLoss(WEIGHT, ignore_index=-100, label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(torch.tensor(WEIGHT), label_smoothing=0.1)),
        (nn.NLLLoss(WEIGHT, reduction="sum"),
         torch.nn.NLLLoss(torch.tensor(WEIGHT), reduction="sum")),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(z, y).data,
                                   theirs(torch.tensor(z), torch.tensor(y)).numpy(), rtol=1e-12)
    p, t = rng.random((3, 4)), rng.random((3, 4))
    np.testing.assert_allclose(
        nn.BCELoss(reduction="sum")(p, t).data,
        torch.nn.BCELoss(reduction="sum")(torch.tensor(p), torch.tensor(t)).numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(weighted, reduction, dtype):
    torch = pytest.importorskip("torch")
    p, t = rng.uniform(0.05, 0.95, (4, 3)), rng.random((4, 3))
    w = rng.random(3) if weighted else None
    tw = None if w is None else torch.tensor(w.astype(dtype))
    compare(lambda p, t: F.binary_cross_entropy(p, t, w, reduction=reduction),
            lambda p, t: torch.nn.functional.binary_cross_entropy(p, t, tw,
                                                                  reduction=reduction),
            [p, t], dtype)
    checks(lambda p, t: F.binary_cross_entropy(p, t, w, reduction=reduction), [p, t])


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_clamps_logs_at_minus_100(dtype):
    torch = pytest.importorskip("torch")
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0], dtype)
    ours = F.binary_cross_entropy(p, t, reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(t),
                                                      reduction="none")
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)
    assert np.isfinite(ours.data).all()


def test_loss_errors_name_op_and_argument():
    z = r(3, C)
    with pytest.raises(ValueError, match="cross_entropy: label_smoothing"):
        F.cross_entropy(z, labels(3), label_smoothing=1.5)
    with pytest.raises(cr.ShapeError, match="cross_entropy: weight"):
        F.cross_entropy(z, labels(3), np.ones(2))
    with pytest.raises(ValueError, match="cross_entropy: reduction"):
        F.cross_entropy(z, labels(3), reduction="avg")
    with pytest.raises(ValueError, match="cross_entropy: target class indices"):
        F.cross_entropy(z, np.array([0, 1, 7]), np.ones(C))
    with pytest.raises(cr.ShapeError, match="nll_loss: target"):
        F.nll_loss(z, np.zeros(3))
    with pytest.raises(ValueError, match="binary_cross_entropy: input"):
        F.binary_cross_entropy(np.array([1.5]), np.array([1.0]))
    with pytest.raises(cr.ShapeError, match="binary_cross_entropy: input of shape"):
        F.binary_cross_entropy(np.array([0.5]), np.array([1.0, 0.0]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_unbatched_and_zero_d_inputs_match_torch(dtype):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    y = np.array(2)
    compare(lambda z: F.cross_entropy(z, y, WEIGHT, label_smoothing=0.1),
            lambda z: tf.cross_entropy(z, torch.tensor(y), torch.tensor(WEIGHT.astype(dtype)),
                                       label_smoothing=0.1), [r(C)], dtype)
    compare(lambda z: F.cross_entropy(z, y), lambda z: tf.cross_entropy(z, torch.tensor(y)),
            [r(C)], dtype)
    compare(lambda p, t: F.binary_cross_entropy(p, t), lambda p, t: tf.binary_cross_entropy(p, t),
            [np.array(0.3), np.array(0.8)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pytorch_class_axis_1_layout_for_index_targets(reduction, dtype):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    y = rng.integers(0, C, (2, 3, 4))
    y[0, 0] = -100
    tw = torch.tensor(WEIGHT.astype(dtype))
    compare(lambda z: F.cross_entropy(z, y, WEIGHT, reduction=reduction, label_smoothing=0.1),
            lambda z: tf.cross_entropy(z, torch.tensor(y), tw, reduction=reduction,
                                       label_smoothing=0.1), [r(2, C, 3, 4)], dtype)
    compare(lambda z: F.cross_entropy(z, y[:, 0], reduction=reduction),
            lambda z: tf.cross_entropy(z, torch.tensor(y[:, 0]), reduction=reduction),
            [r(2, C, 4)], dtype)
    compare(lambda lp: F.nll_loss(lp, y, reduction=reduction),
            lambda lp: tf.nll_loss(lp, torch.tensor(y), reduction=reduction),
            [r(2, C, 3, 4)], dtype)
    # the last-axis layout still wins where it fits
    z = r(2, 3, C)
    np.testing.assert_allclose(F.cross_entropy(z, y[:, :, 0]).data,
                               tf.cross_entropy(torch.tensor(z).permute(0, 2, 1),
                                                torch.tensor(y[:, :, 0])).numpy())
