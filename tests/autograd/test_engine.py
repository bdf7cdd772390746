"""The engine's behaviour: tensors, accumulation, conventions, memory, errors, transforms."""

import gc
import weakref

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F


def f_textbook(x, y):
    return x * x * y + y + 2


# ----------------------------------------------------------------------------- tensors


def test_dtypes_follow_pytorch():
    assert cr.tensor(1.5).dtype == np.float32
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor(np.zeros(2)).dtype == np.float64  # arrays keep their dtype
    assert cr.tensor([1, 2]).dtype == np.int64
    assert (cr.tensor([1.0], dtype="float64")).dtype == np.float64
    x = cr.tensor([1.0, 2.0])
    assert (x * 2.0).dtype == np.float32  # scalars do not upcast
    assert (x * np.float64(2.0)).dtype == np.float32
    assert (cr.tensor([1, 2]) * 0.5).dtype == np.float32


def test_set_default_dtype():
    cr.set_default_dtype("float64")
    try:
        assert cr.tensor(1.0).dtype == np.float64
    finally:
        cr.set_default_dtype("float32")
    with pytest.raises(ValueError, match="float32 or float64"):
        cr.set_default_dtype("int32")


def test_attributes_and_repr():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.shape == (2, 2) and x.ndim == 2 and x.size == 4
    assert x.T.data.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert isinstance(x.numpy(), np.ndarray)
    assert "requires_grad=True" in repr(x)
    assert "op=mul" in repr(x * 2)
    assert cr.tensor(3.0).item() == 3.0
    assert not x.detach().requires_grad
    assert x.is_leaf and not (x * 2).is_leaf


def test_requires_grad_on_integers_is_refused():
    with pytest.raises(TypeError, match="floating-point"):
        cr.tensor([1, 2], requires_grad=True)
    t = cr.tensor([1, 2])
    with pytest.raises(TypeError, match="int64"):
        t.requires_grad = True


def test_gradients_accumulate_across_backward_calls():
    x = cr.tensor(2.0, requires_grad=True)
    (x * x).backward()
    (x * x).backward()
    assert x.grad.item() == 8.0
    x.zero_grad()
    assert x.grad is None


def test_no_grad_context_and_decorator():
    x = cr.tensor(2.0, requires_grad=True)
    with cr.no_grad():
        y = x * 3
    assert not y.requires_grad

    @cr.no_grad
    def triple(t):
        return t * 3

    assert not triple(x).requires_grad
    assert (x * 3).requires_grad
    with cr.no_grad(), cr.enable_grad():
        assert (x * 3).requires_grad


def test_numpy_interop():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x  # NumPy defers to Tensor
    assert isinstance(y, cr.Tensor) and y.requires_grad
    assert np.asarray(x).tolist() == [1.0, 2.0]


def test_grad_arrays_are_not_shared():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([1.0, 2.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.data *= 10
    assert b.grad.data.tolist() == [1.0, 1.0]


# ----------------------------------------------------------------------------- conventions


def test_relu_derivative_at_zero_is_zero():
    x = cr.tensor([0.0, -1.0, 2.0], requires_grad=True)
    cr.relu(x).sum().backward()
    assert x.grad.data.tolist() == [0.0, 0.0, 1.0]


def test_abs_derivative_at_zero_is_zero():
    x = cr.tensor([0.0, -3.0, 3.0], requires_grad=True)
    cr.abs(x).sum().backward()
    assert x.grad.data.tolist() == [0.0, -1.0, 1.0]


def test_max_ties_share_gradient_equally():
    x = cr.tensor([1.0, 3.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [0, 1 / 3, 1 / 3, 1 / 3])
    a = cr.tensor(2.0, requires_grad=True)
    b = cr.tensor(2.0, requires_grad=True)
    cr.maximum(a, b).backward()
    assert (a.grad.item(), b.grad.item()) == (0.5, 0.5)


@pytest.mark.parametrize("fn", [cr.sigmoid, cr.softplus, cr.log_sigmoid, cr.tanh,
                                lambda x: cr.log_softmax(x, axis=0),
                                lambda x: cr.softmax(x, axis=0)])
def test_overflow_safe_at_1e4_in_float32(fn):
    x = cr.tensor(np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=np.float32),
                  requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = fn(x)
        y.sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(x.grad.data).all()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_cross_entropy_is_overflow_safe():
    z = cr.tensor(np.array([[1e4, -1e4, 0.0]], dtype=np.float32), requires_grad=True)
    loss = cr.softmax_cross_entropy(z, np.array([1])).mean()
    loss.backward()
    assert loss.item() == pytest.approx(2e4)
    assert np.isfinite(z.grad.data).all()


def test_sqrt_and_norm_at_zero_follow_the_rule():
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    cr.sqrt(x).sum().backward()
    assert x.grad.data[0] == np.inf and x.grad.data[1] == 0.25
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    (cr.sqrt(x) * cr.tensor([0.0, 1.0])).sum().backward()
    assert x.grad.data.tolist() == [0.0, 0.25]  # a zero cotangent never becomes NaN
    z = cr.tensor([0.0, 0.0, 0.0], requires_grad=True)
    cr.norm(z).backward()
    assert z.grad.data.tolist() == [0.0, 0.0, 0.0]
    c = cr.tensor([2.0, 2.0, 2.0], requires_grad=True)
    c.std().backward()
    assert c.grad.data.tolist() == [0.0, 0.0, 0.0]


def test_pow_exponent_gradient_at_nonpositive_base_is_pytorchs():
    """d(a**b)/db = a^b log a: NaN for a < 0, 0 for 0 ** (b >= 0), -inf for 0 ** (b < 0)."""
    a = cr.tensor([-2.0, 0.0, 2.0, 0.0], requires_grad=True)
    b = cr.tensor([2.0, 2.0, 2.0, -0.5], requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        (a ** b).sum().backward()
    assert np.isnan(b.grad.data[0]) and b.grad.data[1] == 0 and b.grad.data[3] == -np.inf
    np.testing.assert_allclose(b.grad.data[2], 4 * np.log(2.0), rtol=1e-6)
    assert a.grad.data[:3].tolist() == [-4.0, 0.0, 4.0]


# ----------------------------------------------------------------------------- graph & memory


def test_long_chain_has_no_recursion_limit():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_saved_tensors_are_released_after_backward():
    x = cr.tensor(np.ones(1000), requires_grad=True)
    h = cr.exp(x)
    ref = weakref.ref(h)
    y = cr.sin(h).sum()
    del h
    gc.collect()
    assert ref() is not None  # the graph keeps the intermediate alive ...
    y.backward()
    gc.collect()
    assert ref() is None  # ... and backward releases it


def test_backward_frees_intermediates_as_it_goes():
    """A tensor is freed once its own rule and its children's have run, not at the end of
    the walk: what a training step holds shrinks as backward moves to the input."""
    from chainrule.autograd.primitive import Primitive

    alive = []

    def probe_vjp(g, y, x):  # runs last: the walk has left every later tensor behind
        gc.collect()
        alive.append([ref() is not None for ref in refs])
        return g

    probe = Primitive("probe", lambda x: x.copy(), vjp=probe_vjp, jvp=None)  # unregistered
    x = cr.tensor(np.ones(1000), requires_grad=True)
    a = cr.exp(probe(x))
    b = cr.sin(a)
    refs = [weakref.ref(a), weakref.ref(b)]
    loss = (b * b).sum()
    del a, b
    loss.backward()
    assert alive == [[False, False]]
    np.testing.assert_allclose(x.grad.data, 2 * np.sin(np.e) * np.cos(np.e) * np.e)


def test_second_backward_raises_a_clear_error():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.exp(x) * 2
    y.backward()
    with pytest.raises(cr.GraphReleasedError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = cr.tensor(2.0, requires_grad=True)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 8.0


def test_create_graph_gives_second_derivative():
    x = cr.tensor(3.0, requires_grad=True)
    y = x ** 3
    (gx,) = cr.autograd.engine.grad([y], [x], create_graph=True)
    assert gx.item() == 27.0
    gx.backward()
    assert x.grad.item() == 18.0


def test_backward_without_create_graph_records_nothing():
    x = cr.tensor(3.0, requires_grad=True)
    (x * x).backward()
    assert not x.grad.requires_grad


# ----------------------------------------------------------------------------- bad input


def test_shape_mismatch_names_op_and_shapes():
    with pytest.raises(cr.ShapeError, match=r"add.*\(2, 3\).*\(4,\)"):
        cr.tensor(np.ones((2, 3))) + cr.tensor(np.ones(4))
    with pytest.raises(cr.ShapeError, match=r"matmul.*\(2, 3\).*\(2, 3\)"):
        cr.tensor(np.ones((2, 3))) @ cr.tensor(np.ones((2, 3)))
    with pytest.raises(cr.ShapeError, match=r"linear.*\(5, 3\).*\(4, 2\)"):
        F.linear(np.ones((5, 3)), cr.tensor(np.ones((4, 2))))


def test_backward_on_non_scalar_explains_what_to_pass():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="gradient"):
        (x * 2).backward()
    (x * 2).backward(gradient=[1.0, 1.0])
    assert x.grad.data.tolist() == [2.0, 2.0]


def test_backward_on_constant_explains():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor(1.0).backward()


def test_missing_rule_names_the_primitive():
    from chainrule.autograd.ops import Primitive

    nojvp = Primitive("mystery", np.negative, vjp=lambda g, y, x: -g, jvp=None)
    with pytest.raises(NotImplementedError, match="mystery"):
        cr.jvp(lambda x: nojvp(x), (cr.tensor(1.0),), (cr.tensor(1.0),))


def test_cross_entropy_bad_targets():
    z = cr.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        cr.softmax_cross_entropy(z, np.array([0, 3]))
    with pytest.raises(cr.ShapeError, match="target"):
        cr.softmax_cross_entropy(z, np.array([0, 1, 2]))


# ----------------------------------------------------------------------------- transforms


def test_textbook_gradients_every_way():
    assert [g.item() for g in cr.grad(f_textbook, (0, 1))(3.0, 4.0)] == [24.0, 10.0]
    v, g = cr.value_and_grad(f_textbook)(3.0, 4.0)
    assert (v.item(), g.item()) == (42.0, 24.0)
    out, tan = cr.jvp(f_textbook, (3.0, 4.0), (1.0, 0.0))
    assert (out.item(), tan.item()) == (42.0, 24.0)
    out, fn = cr.vjp(f_textbook, 3.0, 4.0)
    assert [t.item() for t in fn(1.0)] == [24.0, 10.0]


def test_hessian_and_third_derivative():
    def f(v):
        return v[0] * v[0] * v[1] + v[1] + 2

    v = np.array([3.0, 4.0])
    assert cr.hessian(f)(v).data.tolist() == [[8.0, 6.0], [6.0, 0.0]]
    third = cr.jacobian(cr.hessian(f))(v).data
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 1] = expected[0, 1, 0] = expected[1, 0, 0] = 2.0
    np.testing.assert_allclose(third, expected)
    d3 = cr.grad(cr.grad(cr.grad(lambda x: x ** 4)))(2.0)
    assert d3.item() == 48.0


def test_jacobian_modes_agree():
    def f(x):
        return cr.tanh(x) * x.sum()

    x = np.array([0.1, -0.3, 0.5])
    np.testing.assert_allclose(cr.jacobian(f)(x).data, cr.jacobian(f, mode="fwd")(x).data,
                               rtol=1e-12)


def test_hvp_matches_hessian():
    def f(x):
        return (x ** 3).sum() + x[0] * x[1]

    x = np.array([1.0, 2.0, 3.0])
    v = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(cr.hvp(f, (x,), (v,)).data, cr.hessian(f)(x).data @ v)


def test_grad_of_closure_over_outer_variable():
    # d/dx [x * d/dy (x*y)] = d/dx x^2 = 2x: no perturbation confusion
    g = cr.grad(lambda x: x * cr.grad(lambda y: x * y)(5.0))
    assert g(3.0).item() == 6.0


def test_transforms_accept_arrays_tensors_and_containers():
    f = lambda x: (x * x).sum()  # noqa: E731
    for x in (np.array([1.0, 2.0]), cr.tensor([1.0, 2.0])):
        assert cr.grad(f)(x).data.tolist() == [2.0, 4.0]
    # a list is a container (as in JAX and HIPS autograd): one gradient per element
    g = cr.grad(lambda v: v[0] * v[0] + v[1])([1.0, 2.0])
    assert isinstance(g, list) and [t.item() for t in g] == [2.0, 1.0]


def test_grad_needs_scalar_output():
    with pytest.raises(ValueError, match="scalar"):
        cr.grad(lambda x: x * 2)(np.array([1.0, 2.0]))


def test_nested_jvp_differentiates_the_inner_tangent():
    # d/dx [d/dy (y * x) at y = x] = d/dx x = 1
    out = cr.jvp(lambda x: cr.jvp(lambda y: y * x, (x,), (1.0,))[1], (1.0,), (1.0,))[1]
    assert out.item() == 1.0


def test_unconnected_gradient_is_zero_in_functional_api():
    assert cr.grad(lambda x, y: x * 2, 1)(1.0, 3.0).item() == 0.0


# ----------------------------------------------------------------------------- gradcheck


def test_gradcheck_reports_input_and_element():
    from chainrule.autograd.ops import Primitive

    wrong = Primitive("wrong_sin", np.sin, vjp=lambda g, y, x: g * x,  # deliberately wrong
                      jvp=lambda t, y, x: t * cr.cos(x))
    with pytest.raises(cr.GradcheckError, match=r"vjp check failed for input 0.*element"):
        cr.gradcheck(lambda x: wrong(x), [np.array([0.3, 1.2])])
    wrong_jvp = Primitive("wrong_cos", np.cos, vjp=lambda g, y, x: -g * cr.sin(x),
                          jvp=lambda t, y, x: t)
    with pytest.raises(cr.GradcheckError, match="jvp check failed"):
        cr.gradcheck(lambda x: wrong_jvp(x), [np.array([0.3, 1.2])])


def test_primitives_accept_numbers_and_arrays():
    assert cr.exp(np.array([0.0])).data.tolist() == [1.0]
    assert cr.sigmoid(0.0).item() == 0.5
    assert cr.tanh([0.0]).dtype == np.float32
