"""Containers (pytrees): flatten/unflatten, and every transform on nested tuples, lists,
dicts, with argnums and has_aux, as JAX does."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.pytree import tree_flatten, tree_map, tree_unflatten

pytestmark = pytest.mark.usefixtures("float64")  # tests/autograd/conftest.py


Pair = namedtuple("Pair", "a b")


def test_flatten_unflatten_roundtrip():
    tree = {"w": [1.0, (2.0, 3.0)], "b": None, "p": Pair(4.0, {"z": 5.0})}
    leaves, treedef = tree_flatten(tree)
    assert leaves == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert tree_unflatten(treedef, leaves) == tree
    assert treedef.num_leaves == 5
    assert tree_map(lambda a, b: a + b, tree, tree)["p"].b["z"] == 10.0
    with pytest.raises(ValueError, match="too few"):
        tree_unflatten(treedef, [1.0])
    with pytest.raises(ValueError, match="structures differ"):
        tree_map(lambda a, b: a, (1.0,), [1.0])


def _params():
    return {"w": np.array([[0.5, -1.0], [2.0, 0.3]]), "b": (np.array([0.1, 0.2]), 0.7)}


def _loss(p, x):
    h = cr.tanh(cr.matmul(p["w"], x) + p["b"][0]) * p["b"][1]
    return cr.sum(h * h)


def _loss_flat(w, b0, b1, x):
    return _loss({"w": w, "b": (b0, b1)}, x)


def test_grad_of_dict_of_tuple_matches_flat_arguments():
    p, x = _params(), np.array([0.4, -0.6])
    g = cr.grad(_loss)(p, x)
    assert set(g) == {"w", "b"} and isinstance(g["b"], tuple)
    flat = cr.grad(_loss_flat, (0, 1, 2))(p["w"], p["b"][0], p["b"][1], x)
    np.testing.assert_allclose(g["w"].data, flat[0].data)
    np.testing.assert_allclose(g["b"][0].data, flat[1].data)
    assert g["b"][1].item() == pytest.approx(flat[2].item())


def test_argnums_tuple_and_negative_and_has_aux():
    def f(a, b):
        return a[0] * b, {"aux": a[1]}

    (ga, gb), aux = cr.grad(f, argnums=(0, -1), has_aux=True)([2.0, 5.0], 3.0)
    assert [t.item() for t in ga] == [3.0, 0.0] and gb.item() == 2.0
    assert aux["aux"].item() == 5.0
    (value, aux), g = cr.value_and_grad(f, has_aux=True)([2.0, 5.0], 3.0)
    assert value.item() == 6.0 and isinstance(g, list)
    with pytest.raises(ValueError, match="out of range"):
        cr.grad(f, 2)([1.0, 1.0], 1.0)
    with pytest.raises(ValueError, match="pair"):
        cr.grad(lambda x: x, has_aux=True)(1.0)


def test_vjp_with_pytree_output_and_cotangent():
    def f(d):
        return {"s": cr.sin(d["x"]), "p": (d["x"] * d["y"],)}

    d = {"x": np.array([0.2, 0.4]), "y": 3.0}
    out, fn = cr.vjp(f, d)
    np.testing.assert_allclose(out["s"].data, np.sin(d["x"]))
    (ct,) = fn({"s": np.ones(2), "p": (np.array([1.0, 2.0]),)})
    np.testing.assert_allclose(ct["x"].data, np.cos(d["x"]) + 3.0 * np.array([1.0, 2.0]))
    assert ct["y"].item() == pytest.approx(0.2 + 0.8)
    with pytest.raises(ValueError, match="structure"):
        fn((np.ones(2),))
    out, fn, aux = cr.vjp(lambda x: (x * 2.0, "tag"), 1.0, has_aux=True)
    assert aux == "tag" and fn(1.0)[0].item() == 2.0


def test_jvp_with_pytrees_and_has_aux():
    def f(t):
        a, (b,) = t
        return [a * b, {"q": cr.exp(a)}], a

    out, tan, aux = cr.jvp(f, ((1.0, (2.0,)),), ((1.0, (0.5,)),), has_aux=True)
    assert out[0].item() == 2.0 and aux.item() == 1.0
    assert tan[0].item() == pytest.approx(2.0 + 0.5) and tan[1]["q"].item() == pytest.approx(
        np.e)
    with pytest.raises(ValueError, match="structure"):
        cr.jvp(f, ((1.0, (2.0,)),), ((1.0, 2.0),))


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_nests_output_outside_inputs(mode):
    def f(d, c):
        return (d["x"] * c, cr.sum(d["x"]) * d["y"])

    d = {"x": np.array([1.0, 2.0]), "y": 3.0}
    jac = cr.jacobian(f, argnums=(0, 1), mode=mode)(d, 4.0)
    assert isinstance(jac, tuple) and len(jac) == 2
    j0_d, j0_c = jac[0]
    np.testing.assert_allclose(j0_d["x"].data, 4.0 * np.eye(2))
    np.testing.assert_allclose(j0_d["y"].data, [0.0, 0.0])
    np.testing.assert_allclose(j0_c.data, [1.0, 2.0])
    j1_d, j1_c = jac[1]
    np.testing.assert_allclose(j1_d["x"].data, [3.0, 3.0])
    assert j1_d["y"].item() == 3.0 and j1_c.item() == 0.0
    j, aux = cr.jacobian(lambda x: (x * x, x + 1.0), mode=mode, has_aux=True)(np.ones(2))
    np.testing.assert_allclose(j.data, 2.0 * np.eye(2))
    np.testing.assert_allclose(aux.data, [2.0, 2.0])


@pytest.mark.parametrize("mode", ["fwd-rev", "rev-rev", "rev-fwd", "fwd-fwd"])
def test_hessian_of_pytree(mode):
    def f(p):
        return p["a"] ** 2 * p["b"] + cr.sum(p["v"] ** 3)

    p = {"a": 2.0, "b": 3.0, "v": np.array([1.0, -1.0])}
    h = cr.hessian(f, mode=mode)(p)
    assert h["a"]["a"].item() == 6.0 and h["a"]["b"].item() == 4.0
    assert h["b"]["b"].item() == 0.0
    np.testing.assert_allclose(h["v"]["v"].data, np.diag([6.0, -6.0]))
    np.testing.assert_allclose(h["v"]["a"].data, [0.0, 0.0])


def test_hvp_with_several_primals():
    f = lambda x, y: cr.sum(x * x * y)  # noqa: E731
    hx, hy = cr.hvp(f, (np.array([1.0, 2.0]), np.array([3.0, 4.0])),
                    (np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    np.testing.assert_allclose(hx.data, [6.0, 4.0])  # 2y*vx + 2x*vy
    np.testing.assert_allclose(hy.data, [2.0, 0.0])  # 2x*vx


def test_gradient_tape_nested_sources_and_targets():
    w = cr.Variable([1.0, 2.0])
    b = cr.Variable(0.5)
    with cr.GradientTape() as tape:
        out = {"l": cr.sum(w * w) + b, "m": [b * 3.0]}
    g = tape.gradient(out, {"w": w, "rest": (b,)})
    np.testing.assert_allclose(g["w"].data, [2.0, 4.0])
    assert g["rest"][0].item() == 4.0


def test_jax_pytree_gradients_agree():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def loss(lib):
        def f(p, x):
            h = lib.tanh(lib.matmul(p["w"], x) + p["b"][0]) * p["b"][1]
            return lib.sum(h * h)
        return f

    p, x = _params(), np.array([0.4, -0.6])
    want = jax.grad(loss(jnp), argnums=(0, 1))(jax.tree_util.tree_map(jnp.asarray, p),
                                               jnp.asarray(x))
    got = cr.grad(loss(cr), argnums=(0, 1))(p, x)
    np.testing.assert_allclose(got[0]["w"].data, want[0]["w"], rtol=1e-12)
    np.testing.assert_allclose(got[0]["b"][0].data, want[0]["b"][0], rtol=1e-12)
    assert got[0]["b"][1].item() == pytest.approx(float(want[0]["b"][1]), rel=1e-12)
    np.testing.assert_allclose(got[1].data, want[1], rtol=1e-12)
    hw = cr.hessian(loss(cr), mode="fwd-fwd")(p, x)["b"][1]["w"]
    hw_jax = jax.hessian(loss(jnp))(jax.tree_util.tree_map(jnp.asarray, p),
                                    jnp.asarray(x))["b"][1]["w"]
    np.testing.assert_allclose(hw.data, hw_jax, rtol=1e-10)
