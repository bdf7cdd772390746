"""The primitive machinery: the explicit registry, the rule constructors, old names."""

import importlib

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.kernels  # registers the fused kernels
from chainrule.autograd import ops
from chainrule.autograd.primitive import (
    PRIMITIVES,
    Primitive,
    bilinear,
    elementwise,
    linear,
    prim,
    reciprocal,
)
from chainrule.errors import DiffError


@pytest.fixture
def scratch_registry():
    """Primitives a test declares are removed from the registry afterwards."""
    saved = dict(PRIMITIVES)
    yield
    PRIMITIVES.clear()
    PRIMITIVES.update(saved)


def test_registry_holds_every_primitive_including_comparisons():
    nondiff = {n for n, p in PRIMITIVES.items() if not p.differentiable}
    assert {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
            "argmax", "argmin", "isnan", "isinf", "isfinite", "isclose"} <= nondiff
    assert all(name == p.name for name, p in PRIMITIVES.items())
    assert PRIMITIVES["exp"] is ops.exp
    assert PRIMITIVES["lstm_scan"] is chainrule.nn.kernels.lstm_scan


def test_names_are_unique(scratch_registry):
    with pytest.raises(ValueError, match="'exp' is already registered"):
        prim("exp", np.exp)


def test_a_bare_primitive_is_not_registered():
    Primitive("not_in_the_table", np.negative, vjp=None, jvp=None)
    assert "not_in_the_table" not in PRIMITIVES


def test_elementwise_derives_both_rules_from_one_derivative(scratch_registry):
    cube = elementwise("cube", lambda x: x ** 3, lambda y, x: 3 * x * x)
    inv = elementwise("inv", np.reciprocal, reciprocal(lambda y, x: -x * x))
    assert "cube" in PRIMITIVES and "inv" in PRIMITIVES
    assert cube.vjps == cube.jvps
    assert cr.gradcheck(lambda x: cube(x), [np.array([0.5, -1.5, 2.0])])
    assert cr.gradgradcheck(lambda x: inv(x), [np.array([0.5, -1.5, 2.0])])


def test_elementwise_with_params_and_two_arguments(scratch_registry):
    scaled = elementwise("scaled_exp", lambda x, k=2.0: np.exp(k * x),
                         lambda y, x, k=2.0: k * y)
    hyp = elementwise("hypot2", lambda a, b: a * a + b * b, lambda y, a, b: 2 * a,
                      lambda y, a, b: 2 * b)
    assert cr.gradgradcheck(lambda x: scaled(x, k=0.5), [np.array([0.1, -0.3])])
    assert cr.gradgradcheck(lambda a, b: hyp(a, b), [np.array([0.5, 1.0]), np.array([2.0])])


def test_linear_and_bilinear_jvps_apply_the_op_to_the_tangent(scratch_registry):
    double = linear("double", lambda x: 2 * x, lambda g, y, x: 2 * g)
    outer = bilinear("outer", np.multiply.outer, lambda g, y, a, b: g @ b,
                     lambda g, y, a, b: a @ g)
    _, tan = cr.jvp(lambda x: double(x), (np.array([1.0, 2.0]),), (np.array([3.0, 4.0]),))
    assert tan.data.tolist() == [6.0, 8.0]
    assert cr.gradgradcheck(lambda a, b: outer(a, b) ** 2, [np.array([1.0, 2.0]),
                                                            np.array([0.5, -1.0, 3.0])])


def test_new_elementwise_ops_match_numpy():
    x = np.array([-0.7, 0.0, 0.4])
    for name, ref in [("sinh", np.sinh), ("cosh", np.cosh), ("asin", np.arcsin),
                      ("acos", np.arccos), ("atan", np.arctan), ("asinh", np.arcsinh)]:
        np.testing.assert_allclose(getattr(cr, name)(x).data, ref(x), rtol=1e-15)


@pytest.mark.parametrize("name", sorted(ops.DEPRECATED))
def test_old_names_warn_and_resolve(name):
    module, new = ops.DEPRECATED[name]
    with pytest.warns(DeprecationWarning, match=name):
        old = getattr(ops, name)
    assert old is getattr(importlib.import_module(module), new)


def test_unknown_names_still_raise_attribute_error():
    with pytest.raises(AttributeError, match="no_such_op"):
        ops.no_such_op  # noqa: B018


def test_numeric_gradient_lives_in_autograd():
    from chainrule.autograd.check import numeric_gradient

    g = numeric_gradient(lambda x: float(np.sum(x ** 2)), np.array([1.0, -2.0]))
    np.testing.assert_allclose(g, [2.0, -4.0], rtol=1e-8)
    with pytest.raises(DiffError, match="eps"):
        numeric_gradient(lambda x: 0.0, np.zeros(1), eps=0.0)


# every public name chainrule.autograd.ops had before the split into a package
OLD_PUBLIC = """CONV_WORKSPACE_BYTES Joint PRIMITIVES Primitive SELU_ALPHA SELU_SCALE ShapeError
Tensor abs
add alias argmax argmin broadcast_to cast cat clip concatenate conv2d conv_padding
conv_transpose2d cos div einsum elu equal erf exp expand expm1 flatten flip gelu
get_default_dtype getitem greater greater_equal leaky_relu less less_equal lift linear linear_
linear_nobias log log1p log_sigmoid log_softmax logsumexp lstm_gates lstm_scan matmul max
max_pool2d_ maximum mean min minimum mul neg nondiff norm not_equal ones ones_like pad permute
pow prim prod relu reshape scatter_add selu sigmoid sign silu sin softmax softmax_cross_entropy
softplus split sqrt squeeze stack std stop_gradient sub sum sum_to swapaxes tan tanh transpose
unfold unsqueeze var where zeros zeros_like""".split()


def test_every_old_public_name_is_still_there():
    with pytest.warns(DeprecationWarning):  # the moved ones warn
        missing = [name for name in OLD_PUBLIC if not hasattr(ops, name)]
    assert missing == []


def test_numeric_gradient_of_a_transposed_input_is_not_zero():
    """A Fortran-ordered input (m.T) once made every step perturb a copy: all zeros."""
    from chainrule.autograd.check import numeric_gradient

    m = np.arange(6.0).reshape(2, 3).T
    np.testing.assert_allclose(numeric_gradient(lambda a: float((a * a).sum()), m), 2 * m,
                               atol=1e-6)
    import chainrule as cr

    cr.gradcheck(lambda a, b: cr.matmul(a, b), [np.ones((2, 3)), m])
