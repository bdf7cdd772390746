"""chainrule.linalg against jax.numpy.linalg: vjp, jvp, and the third directional
derivative by three nested jvps (forward mode to third order), float64. Eigenvectors and
singular vectors are compared through sign-invariant functions of them."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.linalg as la  # noqa: E402

rng = np.random.default_rng(25)
C3 = np.array([0.3, -1.2, 2.0])


def r(*shape):
    return rng.uniform(-1.0, 1.0, size=shape)


def well(*shape):
    return r(*shape) + 2.5 * np.eye(shape[-1])


def _sym(lib, x):
    return (x + lib.swapaxes(x, -1, -2)) * 0.5


def _spd(lib, x):
    return lib.matmul(x, lib.swapaxes(x, -1, -2)) + x.shape[-1] * np.eye(x.shape[-1])


def _svd(lib, linalg):
    def f(x):
        u, s, vh = linalg.svd(x, full_matrices=False)
        rec = lib.matmul(u * C3[:s.shape[-1]], vh)
        return lib.concatenate([lib.reshape(rec, (*rec.shape[:-2], -1)), s], axis=-1)
    return f


def _eigh(lib, linalg):
    def f(x):
        w, v = linalg.eigh(_sym(lib, x))
        rec = lib.matmul(v * C3, lib.swapaxes(v, -1, -2))
        return lib.concatenate([lib.reshape(rec, (*rec.shape[:-2], -1)), w], axis=-1)
    return f


def _qr(lib, linalg):
    def f(x):
        q, r_ = linalg.qr(x)
        return lib.concatenate([lib.reshape(q, (*q.shape[:-2], -1)),
                                lib.reshape(r_, (*r_.shape[:-2], -1))], axis=-1)
    return f


def _cases(lib, linalg):
    return {
        "inv": (linalg.inv, [well(2, 3, 3)]),
        "det": (linalg.det, [well(2, 3, 3)]),
        "slogdet": (lambda a: linalg.slogdet(a)[1], [r(3, 3)]),
        "solve": (linalg.solve, [well(2, 3, 3), r(2, 3, 2)]),
        "cholesky": (lambda a: linalg.cholesky(_spd(lib, a)), [r(2, 3, 3)]),
        "qr": (_qr(lib, linalg), [r(2, 4, 3)]),
        "eigh": (_eigh(lib, linalg), [r(2, 3, 3)]),
        "svd": (_svd(lib, linalg), [r(4, 3)]),
        "svd_wide": (_svd(lib, linalg), [r(2, 3, 5)]),
        "pinv": (linalg.pinv, [r(4, 3)]),
        "matrix_power": (lambda a: linalg.matrix_power(a, 3), [r(3, 3)]),
        "norm_nuc": (lambda a: linalg.norm(a, "nuc", axis=(-2, -1)), [r(2, 3, 4)]),
        "norm_2": (lambda a: linalg.norm(a, 2), [r(3, 4)]),
        "norm_3": (lambda a: linalg.norm(a, 3, axis=-1), [r(3, 4)]),
    }


CR_CASES = _cases(cr, la)
JAX_CASES = _cases(jnp, jnp.linalg)


@pytest.mark.parametrize("name", sorted(CR_CASES))
def test_vjp_and_jvp_match_jax(name):
    f, inputs = CR_CASES[name]
    jf, _ = JAX_CASES[name]
    y, back = cr.vjp(f, *inputs)
    jy, jback = jax.vjp(jf, *[jnp.asarray(x) for x in inputs])
    np.testing.assert_allclose(y.data, np.asarray(jy), rtol=1e-9, atol=1e-11)
    g = rng.standard_normal(y.shape)
    for a, b in zip(back(g), jback(jnp.asarray(g))):
        np.testing.assert_allclose(a.data, np.asarray(b), rtol=1e-8, atol=1e-10)
    vs = tuple(rng.standard_normal(x.shape) for x in inputs)
    _, t = cr.jvp(f, tuple(inputs), vs)
    _, jt = jax.jvp(jf, tuple(jnp.asarray(x) for x in inputs), tuple(jnp.asarray(v) for v in vs))
    np.testing.assert_allclose(t.data, np.asarray(jt), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", sorted(CR_CASES))
def test_third_derivative_by_nested_jvps_matches_jax(name):
    """d³/dt³ <u, f(x + t v)> at t = 0 by three nested jvps, against JAX's."""
    f, inputs = CR_CASES[name]
    jf, _ = JAX_CASES[name]
    local = np.random.default_rng(3)
    u = local.standard_normal(np.shape(f(*inputs).data))
    vs = [local.standard_normal(x.shape) for x in inputs]

    def along(lib_f, jvp, to_arr):
        def g0(t):
            return (lib_f(*[x + t * v for x, v in zip(inputs, vs)]) * u).sum()

        def d(g):
            return lambda t: jvp(g, (t,), (to_arr(1.0),))[1]
        return d(d(d(g0)))(to_arr(0.0))

    ours = along(f, cr.jvp, lambda v: np.asarray(v))
    theirs = along(jf, jax.jvp, lambda v: jnp.asarray(v))
    np.testing.assert_allclose(float(np.asarray(ours.data)), float(theirs), rtol=1e-7,
                               atol=1e-8)
