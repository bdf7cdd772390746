"""chainrule.linalg against torch.linalg: forward values, vjp, jvp (torch.func.jvp) and the
second derivative (reverse over reverse), float64 and float32, batched shapes.

Singular vectors and eigenvectors are unique only up to sign, so those cases compare
sign-invariant functions of them (``U diag(c) Vh``, ``V diag(c) V^T``) together with the
values; everything else is compared raw.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import chainrule as cr  # noqa: E402
import chainrule.linalg as la  # noqa: E402
from chainrule.autograd import engine  # noqa: E402

rng = np.random.default_rng(23)
C3 = np.array([0.3, -1.2, 2.0])  # weights of the sign-invariant reconstructions


def r(*shape):
    return rng.uniform(-1.0, 1.0, size=shape)


def well(*shape):
    return r(*shape) + 2.5 * np.eye(shape[-1])


def _spd_cr(x):
    n = x.shape[-1]
    return cr.matmul(x, cr.swapaxes(x, -1, -2)) + cr.tensor(n * np.eye(n, dtype=x.dtype))


def _spd_t(x):
    n = x.shape[-1]
    return x @ x.mT + n * torch.eye(n, dtype=x.dtype)


def _sym_cr(x):
    return (x + cr.swapaxes(x, -1, -2)) * 0.5


def _sym_t(x):
    return (x + x.mT) * 0.5


def _svd_cr(x):
    u, s, vh = la.svd(x, full_matrices=False)
    k = s.shape[-1]
    rec = cr.matmul(u * cr.tensor(C3[:k].astype(x.dtype)), vh)
    return cr.concatenate([cr.flatten(rec, -2), s], axis=-1)


def _svd_t(x):
    u, s, vh = torch.linalg.svd(x, full_matrices=False)
    k = s.shape[-1]
    rec = (u * torch.tensor(C3[:k], dtype=x.dtype)) @ vh
    return torch.cat([rec.flatten(-2), s], dim=-1)


def _eigh_cr(x):
    w, v = la.eigh(_sym_cr(x))
    rec = cr.matmul(v * cr.tensor(C3.astype(x.dtype)), cr.swapaxes(v, -1, -2))
    return cr.concatenate([cr.flatten(rec, -2), w], axis=-1)


def _eigh_t(x):
    w, v = torch.linalg.eigh(_sym_t(x))
    rec = (v * torch.tensor(C3, dtype=x.dtype)) @ v.mT
    return torch.cat([rec.flatten(-2), w], dim=-1)


def _qr_cr(x):
    q, r_ = la.qr(x)
    return cr.concatenate([cr.flatten(q, -2), cr.flatten(r_, -2)], axis=-1)


def _qr_t(x):
    q, r_ = torch.linalg.qr(x)
    return torch.cat([q.flatten(-2), r_.flatten(-2)], dim=-1)


TL = torch.linalg

# id -> (chainrule fn, torch fn, inputs)
CASES = {
    "inv": (la.inv, TL.inv, [well(2, 3, 3)]),
    "det": (la.det, TL.det, [well(2, 3, 3)]),
    "slogdet": (lambda a: la.slogdet(a)[1], lambda a: TL.slogdet(a)[1], [r(2, 3, 3)]),
    "solve": (la.solve, TL.solve, [well(2, 3, 3), r(2, 3, 2)]),
    "solve_vector": (la.solve, TL.solve, [well(3, 3), r(3)]),
    "cholesky": (lambda a: la.cholesky(_spd_cr(a)), lambda a: TL.cholesky(_spd_t(a)),
                 [r(2, 3, 3)]),
    "qr_tall": (_qr_cr, _qr_t, [r(2, 4, 3)]),
    "qr_wide": (_qr_cr, _qr_t, [r(3, 5)]),
    "eigh": (_eigh_cr, _eigh_t, [r(2, 3, 3)]),
    "svd_tall": (_svd_cr, _svd_t, [r(2, 4, 3)]),
    "svd_wide": (_svd_cr, _svd_t, [r(3, 5)]),
    "svdvals": (la.svdvals, TL.svdvals, [r(2, 3, 4)]),
    "pinv": (la.pinv, TL.pinv, [r(2, 4, 3)]),
    "matrix_power": (lambda a: la.matrix_power(a, 3), lambda a: TL.matrix_power(a, 3),
                     [r(2, 3, 3)]),
    "matrix_power_neg": (lambda a: la.matrix_power(a, -2), lambda a: TL.matrix_power(a, -2),
                         [well(3, 3)]),
}
for _o in ("fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf):
    CASES[f"matrix_norm_{_o}"] = (lambda a, o=_o: la.norm(a, o, axis=(-2, -1)),
                                  lambda a, o=_o: TL.matrix_norm(a, o), [r(2, 3, 4)])
for _o in (1, 2, 3, 0.5, np.inf, -np.inf):
    CASES[f"vector_norm_{_o}"] = (lambda a, o=_o: la.norm(a, o, axis=-1),
                                  lambda a, o=_o: TL.vector_norm(a, o, dim=-1), [r(3, 4)])


def _tol(dtype):
    return dict(rtol=1e-7, atol=1e-9) if dtype == np.float64 else dict(rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_vjp_match_torch(name, dtype):
    f, tf, inputs = CASES[name]
    xs = [x.astype(dtype) for x in inputs]
    leaves = [cr.tensor(x, requires_grad=True) for x in xs]
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    y, ty = f(*leaves), tf(*txs)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **_tol(dtype))
    g = rng.standard_normal(y.shape).astype(dtype)
    ours = engine.grad([y], leaves, [cr.tensor(g)])
    theirs = torch.autograd.grad(ty, txs, torch.tensor(g))
    for a, b in zip(ours, theirs):
        assert a.dtype == dtype
        np.testing.assert_allclose(a.data, b.numpy(), **_tol(dtype))


@pytest.mark.parametrize("name", sorted(CASES))
def test_jvp_matches_torch(name):
    f, tf, inputs = CASES[name]
    vs = [rng.standard_normal(x.shape) for x in inputs]
    _, ours = cr.jvp(f, tuple(inputs), tuple(vs))
    _, theirs = torch.func.jvp(tf, tuple(torch.tensor(x) for x in inputs),
                               tuple(torch.tensor(v) for v in vs))
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivative_matches_torch(name):
    f, tf, inputs = CASES[name]
    leaves = [cr.tensor(x, requires_grad=True) for x in inputs]
    txs = [torch.tensor(x, requires_grad=True) for x in inputs]
    y, ty = f(*leaves), tf(*txs)
    g = rng.standard_normal(y.shape)
    vs = [rng.standard_normal(x.shape) for x in inputs]
    grads = engine.grad([y], leaves, [cr.tensor(g)], create_graph=True)
    s = sum((gi * v).sum() for gi, v in zip(grads, vs))
    ours = engine.grad([s], leaves)
    tgrads = torch.autograd.grad(ty, txs, torch.tensor(g), create_graph=True)
    ts = sum((gi * torch.tensor(v)).sum() for gi, v in zip(tgrads, vs))
    theirs = torch.autograd.grad(ts, txs, allow_unused=True)
    for a, b in zip(ours, theirs):
        a = np.zeros_like(b.numpy()) if a is None else a.data
        b = np.zeros_like(a) if b is None else b.numpy(force=True)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)

