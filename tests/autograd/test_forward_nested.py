"""Nested forward mode and the silent-wrong-derivative repros of issue 22.

Third derivatives of a corpus of functions along random directions, in every nesting of
forward (jvp) and reverse (grad) mode, must agree with each other, with finite
differences of the analytic second derivative, and with JAX (when installed).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr

pytestmark = pytest.mark.usefixtures("float64")  # tests/autograd/conftest.py


# ----------------------------------------------------------------- the four repros


def test_repro1_vjp_fn_is_differentiable_in_its_cotangent():
    x = np.array([1.0, 2.0])
    h = lambda v: cr.sum(cr.vjp(cr.sin, x)[1](v)[0])  # noqa: E731  sum(cos(x) * v)
    np.testing.assert_allclose(cr.grad(h)(np.ones(2)).data, np.cos(x), rtol=1e-12)
    tan = cr.jvp(h, (np.ones(2),), (np.ones(2),))[1]
    np.testing.assert_allclose(tan.item(), np.cos(1.0) + np.cos(2.0), rtol=1e-12)
    assert round(tan.item(), 4) == 0.1242


def test_repro2_value_and_vjp_primal_keep_forward_tangent():
    tan = cr.jvp(lambda x: cr.value_and_grad(cr.sin)(x)[0], (1.0,), (1.0,))[1]
    assert tan.item() == pytest.approx(np.cos(1.0), rel=1e-12)
    x = np.array([0.3, -0.7])
    tan = cr.jvp(lambda x: cr.vjp(cr.sin, x)[0], (x,), (np.ones(2),))[1]
    np.testing.assert_allclose(tan.data, np.cos(x), rtol=1e-12)
    # the gradient itself too (forward over reverse)
    tan = cr.jvp(lambda x: cr.value_and_grad(cr.sin)(x)[1], (1.0,), (1.0,))[1]
    assert tan.item() == pytest.approx(-np.sin(1.0), rel=1e-12)


def test_repro3_list_of_tensors_differentiates():
    assert cr.grad(lambda x: cr.mean([x, x]))(0.5).item() == pytest.approx(1.0)
    assert cr.grad(lambda x: cr.norm([x, x]))(0.5).item() == pytest.approx(np.sqrt(2.0))
    assert cr.grad(lambda x: cr.sum([[x, 2.0], [3.0, x]]))(0.5).item() == pytest.approx(2.0)
    tan = cr.jvp(lambda x: cr.mean([x, 3.0 * x]), (0.5,), (1.0,))[1]
    assert tan.item() == pytest.approx(2.0)


def test_repro3_class_container_never_becomes_a_constant():
    x = cr.tensor(0.5, requires_grad=True)
    with pytest.raises(TypeError, match="derivative would be lost"):
        cr.tensor([x, x])
    with pytest.raises(TypeError, match="derivative would be lost"):
        cr.jvp(lambda y: cr.tensor([y, y]).sum(), (0.5,), (1.0,))
    y = cr.as_tensor([x, x])  # as_tensor stacks, as the ops do
    y.sum().backward()
    assert x.grad.item() == 2.0
    # constants inside lists stay fine
    assert cr.tensor([cr.tensor(1.0), 2.0]).data.tolist() == [1.0, 2.0]


def test_repro4_tuple_argument_is_a_container():
    g = cr.grad(lambda t: t[0] * t[1])((2.0, 3.0))
    assert isinstance(g, tuple) and [v.item() for v in g] == [3.0, 2.0]


def test_structurally_zero_derivative_is_zero_not_none():
    assert cr.grad(lambda x: cr.sign(x) * 3.0)(0.5).item() == 0.0
    x = cr.tensor([0.5, -1.0], requires_grad=True)
    (g,) = cr.autograd.engine.grad([cr.sign(x).sum()], [x])
    assert g is not None and g.data.tolist() == [0.0, 0.0]
    z = cr.tensor(1.0, requires_grad=True)
    assert cr.autograd.engine.grad([x.sum()], [z]) == [None]  # unconnected stays None
    with cr.GradientTape() as tape:
        v = cr.Variable(0.5)
        w = cr.Variable(1.0)
        out = cr.sign(v) * 2.0
    gv, gw = tape.gradient(out, [v, w])
    assert gv.item() == 0.0 and gw is None  # TF: None only for the unconnected source


# ----------------------------------------------------------------- nesting


def test_third_derivative_in_pure_forward_mode():
    f = lambda x: cr.sin(x) * x  # noqa: E731
    d = lambda g: (lambda x: cr.jvp(g, (x,), (1.0,))[1])  # noqa: E731
    x = 0.7
    assert d(d(d(f)))(x).item() == pytest.approx(-3 * np.sin(x) - x * np.cos(x), rel=1e-12)
    assert d(d(d(d(f))))(x).item() == pytest.approx(-4 * np.cos(x) + x * np.sin(x),
                                                    rel=1e-12)


def test_no_perturbation_confusion_between_levels():
    # d/dx [x * d/dy (x + y)] = d/dx x = 1 (Siskind & Pearlmutter's example)
    inner = lambda x: cr.jvp(lambda y: x + y, (1.0,), (1.0,))[1]  # noqa: E731
    assert cr.jvp(lambda x: x * inner(x), (1.0,), (1.0,))[1].item() == 1.0
    # a tangent left on a tensor by a closed level is not picked up by a later one
    leaked = []
    cr.jvp(lambda x: leaked.append(x * 2.0) or x, (1.0,), (1.0,))
    assert cr.jvp(lambda y: leaked[0] * y, (3.0,), (1.0,))[1].item() == 2.0


def test_hessian_modes_agree():
    def f(x):
        return cr.sum(cr.exp(x[:2]) * cr.sin(x[1:]) ** 2) + cr.prod(x)

    x = np.array([0.3, -0.4, 0.8])
    ref = cr.hessian(f, mode="rev-rev")(x).data
    for mode in ("fwd-rev", "rev-fwd", "fwd-fwd"):
        np.testing.assert_allclose(cr.hessian(f, mode=mode)(x).data, ref, rtol=1e-10)
    with pytest.raises(ValueError, match="mode"):
        cr.hessian(f, mode="fwd")


def _funcs(lib):
    """A corpus of R^3 -> R functions, written once for chainrule and once for JAX."""
    s = lib
    return {
        "poly": lambda x: s.sum(x ** 3) * x[0] + x[1] * x[2],
        "trig": lambda x: s.sum(s.sin(x) * s.cos(x[::-1])),
        "exp_log": lambda x: s.log(s.sum(s.exp(x))) + s.sum(s.log1p(x * x)),
        "tanh_div": lambda x: s.sum(s.tanh(x) / (1.0 + x * x)),
        "matmul": lambda x: s.sum(s.matmul(s.reshape(x, (3, 1)), s.reshape(x, (1, 3))) ** 2
                                  * s.sin(x)),
        "sqrt_pow": lambda x: s.sum(s.sqrt(x * x + 1.0) ** 1.5),
        "prod_sigmoid": lambda x: s.prod(1.0 / (1.0 + s.exp(-x))),
        "concat_stack": lambda x: (s.sum(s.concatenate([x * x, s.sin(x)]) ** 2)
                                   + s.sum(s.stack([x, x * 2.0]) ** 3)),
        "einsum_mean": lambda x: s.einsum("i,j,j->", x, x, s.exp(x)) + s.mean(x ** 4),
        "pow_tensor": lambda x: s.sum((x * x + 1.0) ** (x + 2.0)),
        "abs_max_where": lambda x: (s.sum(s.abs(x) ** 3) + s.maximum(x[0], x[1]) * x[2]
                                    + s.sum(s.where(x > 0, s.exp(x), x ** 3))),
    }


_MODES = list(itertools.product(("fwd", "rev"), repeat=3))


def _directional(d_jvp, d_grad):
    def d(g, mode, v):
        if mode == "fwd":
            return lambda x: d_jvp(g, x, v)
        return lambda x: d_grad(g, x, v)

    def third(f, modes, vs, x):
        g = f
        for m, v in zip(modes, vs):
            g = d(g, m, v)
        return g(x)

    return third


_cr_third = _directional(lambda g, x, v: cr.jvp(g, (x,), (v,))[1],
                         lambda g, x, v: cr.sum(cr.grad(g)(x) * v))

_X = np.array([0.4, -0.3, 0.9])
_VS = [np.array([1.0, 0.5, -0.2]), np.array([-0.3, 0.8, 0.1]), np.array([0.6, -0.4, 1.2])]


@pytest.mark.parametrize("name", sorted(_funcs(cr)))
def test_depth3_every_nesting_agrees_with_reverse_and_fd(name):
    f = _funcs(cr)[name]
    values = {m: _cr_third(f, m, _VS, _X).item() for m in _MODES}
    ref = values[("rev", "rev", "rev")]
    for m, v in values.items():
        assert v == pytest.approx(ref, rel=1e-9, abs=1e-9), m
    # finite differences of the (reverse-mode) second directional derivative along v3
    second = lambda x: _cr_third(f, ("rev", "rev"), _VS[:2], x).item()  # noqa: E731
    eps = 1e-5
    fd = (second(_X + eps * _VS[2]) - second(_X - eps * _VS[2])) / (2 * eps)
    assert ref == pytest.approx(fd, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", sorted(_funcs(cr)))
def test_depth3_every_nesting_agrees_with_jax(name):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    jf = _funcs(jnp)[name]
    jax_third = _directional(lambda g, x, v: jax.jvp(g, (x,), (v,))[1],
                             lambda g, x, v: jnp.sum(jax.grad(g)(x) * v))
    want = float(jax_third(jf, ("fwd", "fwd", "fwd"), [jnp.asarray(v) for v in _VS],
                           jnp.asarray(_X)))
    f = _funcs(cr)[name]
    for m in _MODES:
        assert _cr_third(f, m, _VS, _X).item() == pytest.approx(want, rel=1e-9, abs=1e-9), m


def test_jacobian_of_vector_function_nested_modes_agree_with_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def f(lib):
        return lambda x: lib.tanh(x) * lib.sum(x ** 2) + lib.sin(x[::-1])

    x = np.array([0.2, -0.5, 0.7])
    want = np.asarray(jax.jacfwd(jax.jacrev(jax.jacfwd(f(jnp))))(jnp.asarray(x)))
    for outer, mid, inner in _MODES:
        got = cr.jacobian(cr.jacobian(cr.jacobian(f(cr), mode=inner), mode=mid),
                          mode=outer)(x).data
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_gradgradcheck_covers_forward_over_forward():
    # a primitive whose jvp rule is wrong only at second order is caught by the new check
    from chainrule.autograd import ops
    from chainrule.autograd.primitive import Primitive

    bad = Primitive("bad_cube", lambda x: x ** 3,
                    vjp=lambda g, y, x: g * 3.0 * x * x,
                    jvp=lambda t, y, x: t * 3.0 * ops.stop_gradient(x * x))
    with pytest.raises(cr.GradcheckError, match="forward mode"):
        cr.gradgradcheck(lambda x: bad(x), [np.array([0.5, -1.5])])
    assert cr.gradgradcheck(lambda x: x ** 3, [np.array([0.5, -1.5])])
