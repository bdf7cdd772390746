"""chainrule.linalg: gradchecks (first and second order, reverse and forward mode, batched),
values against NumPy, float32, several outputs, degenerate spectra, singular matrices and
bad input. The PyTorch oracle is tests/autograd/test_linalg_torch.py."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.linalg as la
from chainrule.errors import ShapeError

rng = np.random.default_rng(22)


def r(*shape):
    return rng.uniform(-1.0, 1.0, size=shape)


def well(*shape):
    """Square matrices (..., N, N) far from singular."""
    n = shape[-1]
    return r(*shape) + 2.5 * np.eye(n)


def spd(x):
    """A symmetric positive-definite matrix from any square x (a differentiable map)."""
    n = x.shape[-1]
    return cr.matmul(x, cr.swapaxes(x, -1, -2)) + cr.tensor(n * np.eye(n, dtype=x.dtype))


def sym(x):
    return (x + cr.swapaxes(x, -1, -2)) * 0.5


def flat(*parts):
    """Several outputs as one tensor (gradcheck checks one output)."""
    batch = parts[0].shape[:-2] if parts[0].ndim >= 2 else ()
    return cr.concatenate([cr.reshape(p, (*batch, -1)) for p in parts], axis=-1)


def _svd(full):
    def f(a):
        u, s, vh = la.svd(a, full_matrices=full)
        return flat(u, cr.reshape(s, (*s.shape, 1)), vh)
    return f


def _qr(a):
    q, r_ = la.qr(a)
    return flat(q, r_)


def _eigh(a):
    w, v = la.eigh(sym(a))
    return flat(cr.reshape(w, (*w.shape, 1)), v)


# primitives registered by chainrule.linalg, checked by the table below (test_rules imports it)
COVERED = {f"linalg_{n}" for n in (
    "inv", "det", "slogdet", "solve", "cholesky", "qr", "eigh", "svd", "pinv")}

CASES = {
    "inv": (la.inv, [well(3, 3)]),
    "inv_batched": (la.inv, [well(2, 2, 3, 3)]),
    "det": (la.det, [well(3, 3)]),
    "det_batched": (la.det, [well(2, 3, 3)]),
    "det_1x1": (la.det, [well(4, 1, 1)]),
    "slogdet": (lambda a: la.slogdet(a).logabsdet * la.slogdet(a).sign, [r(2, 3, 3)]),
    "solve": (la.solve, [well(3, 3), r(3, 2)]),
    "solve_vector": (la.solve, [well(2, 3, 3), r(3)]),
    "solve_broadcast": (la.solve, [well(3, 3), r(2, 3, 2)]),
    "solve_broadcast_a": (la.solve, [well(2, 1, 3, 3), r(4, 3, 1)]),
    "cholesky": (lambda a: la.cholesky(spd(a)), [r(3, 3)]),
    "cholesky_batched_upper": (lambda a: la.cholesky(spd(a), upper=True), [r(2, 3, 3)]),
    "qr_square": (_qr, [r(3, 3)]),
    "qr_tall_batched": (_qr, [r(2, 4, 3)]),
    "qr_wide": (_qr, [r(2, 4)]),
    "qr_r": (lambda a: la.qr(a, mode="r"), [r(4, 2)]),
    "eigh": (_eigh, [r(3, 3)]),
    "eigh_batched": (_eigh, [r(2, 4, 4)]),
    "eigh_upper": (lambda a: la.eigh(sym(a), UPLO="U").eigenvectors, [r(3, 3)]),
    "eigvalsh": (lambda a: la.eigvalsh(sym(a)), [r(2, 3, 3)]),
    "svd_square": (_svd(False), [r(3, 3)]),
    "svd_tall_batched": (_svd(False), [r(2, 4, 3)]),
    "svd_wide": (_svd(False), [r(2, 4)]),
    "svd_full_tall": (lambda a: la.svd(a)[0][..., :2] * la.svd(a)[1][..., None, :], [r(3, 2)]),
    "svdvals": (la.svdvals, [r(2, 3, 4)]),
    "pinv_tall": (la.pinv, [r(4, 3)]),
    "pinv_wide_batched": (la.pinv, [r(2, 2, 4)]),
    "pinv_square": (la.pinv, [well(3, 3)]),
    "matrix_power_3": (lambda a: la.matrix_power(a, 3), [r(2, 3, 3)]),
    "matrix_power_neg": (lambda a: la.matrix_power(a, -2), [well(3, 3)]),
    "matrix_power_0": (lambda a: la.matrix_power(a, 0) + a, [r(3, 3)]),
    "norm_default": (la.norm, [r(2, 3)]),
    "norm_fro": (lambda a: la.norm(a, "fro"), [r(2, 3)]),
    "norm_nuc": (lambda a: la.norm(a, "nuc", axis=(1, 2)), [r(2, 3, 4)]),
    "norm_2": (lambda a: la.norm(a, 2), [r(3, 4)]),
    "norm_-2": (lambda a: la.norm(a, -2, axis=(0, 2), keepdims=True), [r(3, 2, 4)]),
    "norm_1": (lambda a: la.norm(a, 1), [r(3, 4)]),
    "norm_-1": (lambda a: la.norm(a, -1, axis=(-1, -2)), [r(2, 3, 4)]),
    "norm_inf": (lambda a: la.norm(a, np.inf), [r(3, 4)]),
    "norm_-inf": (lambda a: la.norm(a, -np.inf, axis=(1, 2), keepdims=True), [r(2, 3, 4)]),
    "vector_norm_1": (lambda a: la.norm(a, 1, axis=1), [r(3, 4)]),
    "vector_norm_2": (lambda a: la.norm(a, axis=0, keepdims=True), [r(3, 4)]),
    "vector_norm_3": (lambda a: la.norm(a, 3, axis=-1), [r(2, 4)]),
    "vector_norm_half": (lambda a: la.norm(a, 0.5, axis=-1), [r(2, 4)]),
    "vector_norm_inf": (lambda a: la.norm(a, np.inf), [r(5)]),
    "vector_norm_-inf": (lambda a: la.vector_norm(a, -np.inf, axis=1), [r(3, 4)]),
    "vector_norm_0": (lambda a: la.norm(a, 0, axis=1, keepdims=True) * a, [r(3, 4)]),
    "matrix_norm": (lambda a: la.matrix_norm(a, "nuc") + la.matrix_norm(a), [r(2, 3, 3)]),
}

# max/min of |x| and the p < 1 norms are piecewise: finite differences of their first
# derivative are fine, those of the second cross no kink at these points
SECOND_ORDER_SKIP: set[str] = set()


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_order(name):
    f, inputs = CASES[name]
    assert cr.gradcheck(f, inputs)


@pytest.mark.parametrize("name", sorted(set(CASES) - SECOND_ORDER_SKIP))
def test_second_order(name):
    f, inputs = CASES[name]
    assert cr.gradgradcheck(f, inputs, atol=1e-4)


def test_every_linalg_primitive_is_in_the_table():
    from chainrule.autograd.ops import PRIMITIVES
    assert COVERED <= set(PRIMITIVES)
    assert all(PRIMITIVES[n].differentiable for n in COVERED)


# --------------------------------------------------------------------------- values


def test_values_match_numpy():
    a, b, t = well(2, 3, 3), r(2, 3, 2), r(2, 4, 3)
    s = a @ np.swapaxes(a, -1, -2)
    np.testing.assert_allclose(la.inv(a).data, np.linalg.inv(a))
    np.testing.assert_allclose(la.det(a).data, np.linalg.det(a))
    sign, logdet = la.slogdet(a)
    np.testing.assert_allclose(sign.data, np.linalg.slogdet(a).sign)
    np.testing.assert_allclose(logdet.data, np.linalg.slogdet(a).logabsdet)
    np.testing.assert_allclose(la.solve(a, b).data, np.linalg.solve(a, b))
    np.testing.assert_allclose(la.solve(a, b[0, :, 0]).data, np.linalg.solve(a, b[0, :, 0]))
    np.testing.assert_allclose(la.cholesky(s).data, np.linalg.cholesky(s))
    np.testing.assert_allclose(la.cholesky(s, upper=True).data,
                               np.linalg.cholesky(s, upper=True))
    for mode in ("reduced", "complete", "r"):
        for x in (t, np.swapaxes(t, -1, -2), a):
            ours, ref = la.qr(x, mode=mode), np.linalg.qr(x, mode=mode)
            for o, n in zip((ours,) if mode == "r" else ours, (ref,) if mode == "r" else ref):
                np.testing.assert_allclose(o.data, n, atol=1e-12)
    w, v = la.eigh(s)
    np.testing.assert_allclose(w.data, np.linalg.eigh(s).eigenvalues)
    np.testing.assert_allclose(np.abs(v.data), np.abs(np.linalg.eigh(s).eigenvectors))
    np.testing.assert_allclose(la.eigh(s, UPLO="U").eigenvalues.data,
                               np.linalg.eigh(s, UPLO="U").eigenvalues)
    for x in (t, np.swapaxes(t, -1, -2), a):
        for full in (True, False):
            for o, n in zip(la.svd(x, full_matrices=full),
                            np.linalg.svd(x, full_matrices=full)):
                np.testing.assert_allclose(np.abs(o.data), np.abs(n), atol=1e-12)
        np.testing.assert_allclose(la.svdvals(x).data, np.linalg.svd(x, compute_uv=False))
        np.testing.assert_allclose(la.pinv(x).data, np.linalg.pinv(x), atol=1e-12)
    for n in (-3, -1, 0, 1, 2, 5):
        np.testing.assert_allclose(la.matrix_power(a, n).data, np.linalg.matrix_power(a, n))


@pytest.mark.parametrize("ord_", [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
@pytest.mark.parametrize("axis", [None, (1, 2), (2, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_matrix_norms_match_numpy(ord_, axis, keepdims):
    x = r(2, 3, 4)
    if axis is None:
        x = x[0]
    np.testing.assert_allclose(la.norm(x, ord_, axis, keepdims).data,
                               np.linalg.norm(x, ord_, axis, keepdims), rtol=1e-12)


@pytest.mark.parametrize("ord_", [None, 0, 1, 2, 3, 0.5, -1, -2, np.inf, -np.inf])
@pytest.mark.parametrize("axis", [None, 0, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norms_match_numpy(ord_, axis, keepdims):
    x = r(3, 4) if axis is not None else r(5)
    np.testing.assert_allclose(la.norm(x, ord_, axis, keepdims).data,
                               np.linalg.norm(x, ord_, axis, keepdims), rtol=1e-12)
    if ord_ is not None:
        np.testing.assert_allclose(la.vector_norm(x, ord_, axis, keepdims).data,
                                   np.linalg.vector_norm(x, axis=axis, keepdims=keepdims,
                                                         ord=ord_), rtol=1e-12)


def test_norm_without_axis_and_ord_is_the_flat_2_norm():
    x = r(2, 3, 4)
    np.testing.assert_allclose(la.norm(x).data, np.linalg.norm(x))
    assert la.norm(x, keepdims=True).shape == (1, 1, 1)
    with pytest.raises(ValueError, match="norm"):
        la.norm(x, 1)
    with pytest.raises(ValueError, match="ord"):
        la.norm(r(3), "fro")


# --------------------------------------------------------------------------- float32


F32_CASES = ["inv_batched", "det_batched", "slogdet", "solve", "cholesky", "qr_tall_batched",
             "eigh", "svd_square", "svd_wide", "pinv_tall", "norm_nuc", "norm_2", "matrix_power_3"]


@pytest.mark.parametrize("name", F32_CASES)
def test_float32_matches_float64(name):
    f, inputs = CASES[name]
    x64 = [cr.tensor(x, requires_grad=True) for x in inputs]
    x32 = [cr.tensor(x.astype(np.float32), requires_grad=True) for x in inputs]
    y64, y32 = f(*x64), f(*x32)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32.data, y64.data, rtol=1e-3, atol=1e-4)
    u = rng.standard_normal(y64.shape)
    (y64 * u).sum().backward()
    (y32 * u.astype(np.float32)).sum().backward()
    for a, b in zip(x32, x64):
        assert a.grad.dtype == np.float32
        np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=2e-3, atol=2e-3)


# --------------------------------------------------------------------------- several outputs


def test_every_output_of_a_decomposition_differentiates():
    a = r(4, 3)
    u, s, vh = la.svd(a, full_matrices=False)
    assert isinstance(la.svd(a), la.SVDResult) and isinstance(la.eigh(a @ a.T), la.EighResult)
    assert isinstance(la.qr(a), la.QRResult) and isinstance(la.slogdet(a[:3]), la.SlogdetResult)
    gu = cr.grad(lambda x: (la.svd(x, full_matrices=False).U ** 2 * r(4, 3)).sum())(a)
    gs = cr.grad(lambda x: la.svd(x).S.sum())(a)
    both = cr.grad(lambda x: (la.svd(x, full_matrices=False).U ** 2 * r(4, 3)).sum()
                   + la.svd(x).S.sum())
    assert np.abs(gu.data).sum() > 0
    np.testing.assert_allclose(gs.data, u.data @ vh.data)  # d sum(s) = U V^T
    assert both(a).shape == a.shape
    # the eigenvalues and eigenvectors of one eigh node, used together
    m = sym(cr.tensor(r(3, 3)))
    w, v = la.eigh(m)
    rebuilt = cr.matmul(v * w[None, :], cr.swapaxes(v, 0, 1))
    np.testing.assert_allclose(rebuilt.data, m.data, atol=1e-12)
    g = cr.grad(lambda x: (cr.matmul(la.eigh(sym(x))[1] * la.eigh(sym(x))[0][None, :],
                                     la.eigh(sym(x))[1].T) ** 2).sum())(m.data)
    np.testing.assert_allclose(g.data, 2 * m.data, atol=1e-10)  # d ||A||^2 = 2 A


def test_nested_forward_and_mixed_modes_agree():
    a = well(3, 3)
    v = r(3, 3)

    def f(x):
        return la.det(x) + la.svdvals(x).sum() + la.eigvalsh(sym(x)).max()

    def fv(x):  # directional derivative, forward mode
        return cr.jvp(f, (x,), (v,))[1]

    rev_over_fwd = cr.grad(fv)(a).data
    fwd_over_rev = cr.jvp(lambda x: (cr.grad(f)(x) * v).sum(), (a,), (np.eye(3),))[1]
    rev_over_rev = cr.grad(lambda x: (cr.grad(f)(x) * v).sum())(a).data
    np.testing.assert_allclose(rev_over_fwd, rev_over_rev, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fwd_over_rev.data, (rev_over_rev * np.eye(3)).sum(), rtol=1e-8)
    try:
        fwd_over_fwd = cr.jvp(fv, (a,), (np.eye(3),))[1]
    except NotImplementedError:
        pytest.skip("nested forward mode is not available yet")
    np.testing.assert_allclose(fwd_over_fwd.data, (rev_over_rev * np.eye(3)).sum(), rtol=1e-8)


# --------------------------------------------------------------------------- degenerate spectra


def test_eigenvalue_gradients_are_exact_at_repeated_eigenvalues():
    a = 2.0 * np.eye(3)
    np.testing.assert_allclose(cr.grad(lambda x: la.eigvalsh(x).sum())(a).data, np.eye(3))
    g = cr.grad(lambda x: (la.eigvalsh(x) ** 2).sum())(a).data  # ||A||_F^2
    np.testing.assert_allclose(g, 2 * a, atol=1e-12)
    _, t = cr.jvp(lambda x: la.eigvalsh(x).sum(), (a,), (sym(cr.tensor(r(3, 3))).data,))
    assert np.isfinite(t.data).all()


def test_eigenvector_gradients_at_repeated_eigenvalues_are_nan():
    a = np.diag([1.0, 1.0, 3.0])
    g = cr.grad(lambda x: (la.eigh(x).eigenvectors * r(3, 3)).sum())(a).data
    assert np.isnan(g).any()
    _, t = cr.jvp(lambda x: la.eigh(x).eigenvectors, (a,), (sym(cr.tensor(r(3, 3))).data,))
    assert np.isnan(t.data).any()
    # distinct but close eigenvalues: large, finite, and right
    b = np.diag([1.0, 1.0 + 1e-3, 3.0]) + 1e-4 * sym(cr.tensor(r(3, 3))).data
    assert cr.gradcheck(lambda x: la.eigh(sym(x)).eigenvectors[:, 2], [b], rtol=1e-2)


def test_singular_value_gradients_at_repeated_and_zero_singular_values():
    a = np.zeros((4, 3))
    a[0, 0], a[1, 1] = 2.0, 2.0  # s = (2, 2, 0): repeated and zero
    np.testing.assert_allclose(cr.grad(lambda x: la.svdvals(x).sum())(a).data,
                               np.linalg.svd(a, full_matrices=False)[0]
                               @ np.linalg.svd(a, full_matrices=False)[2])
    g_nuc = cr.grad(lambda x: la.norm(x, "nuc"))(a).data
    assert np.isfinite(g_nuc).all()
    g = cr.grad(lambda x: (la.svd(x, full_matrices=False).U * r(4, 3)).sum())(a).data
    assert np.isnan(g).any()


# --------------------------------------------------------------------------- singular, bad input


def test_singular_matrices():
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(la.LinAlgError, match="inv: the matrix is singular"):
        la.inv(s)
    with pytest.raises(la.LinAlgError, match="solve"):
        la.solve(s, np.ones(2))
    assert isinstance(la.LinAlgError("x"), np.linalg.LinAlgError)
    assert la.det(s).item() == 0.0
    sign, logdet = la.slogdet(s)
    assert sign.item() == 0.0 and logdet.item() == -np.inf
    with pytest.raises(la.LinAlgError, match="slogdet: no gradient at a singular matrix"):
        cr.grad(lambda x: la.slogdet(x)[1])(s)


@pytest.mark.parametrize("a", [
    np.array([[1.0, 2.0], [2.0, 4.0]]),                                # rank 1 of 2
    np.arange(1.0, 10.0).reshape(3, 3),                                # rank 2 of 3
    np.diag([1.0, 2.0, 0.0]),
    np.zeros((3, 3)),                                                  # rank 0
    np.stack([np.diag([1.0, 2.0, 0.0]), well(3, 3)]),                  # a mixed batch
])
def test_det_gradient_at_singular_matrices_is_the_cofactor_matrix(a):
    assert cr.gradcheck(la.det, [a])
    assert cr.gradgradcheck(la.det, [a], atol=1e-4)
    g = cr.grad(lambda x: la.det(x).sum())(a).data
    cof = np.zeros_like(a)
    n = a.shape[-1]
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, -2), j, -1)
            cof[..., i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    np.testing.assert_allclose(g, cof, atol=1e-12)


def test_bad_input_names_the_op_and_argument():
    for fn in (la.inv, la.det, la.slogdet, la.cholesky, la.eigh, la.eigvalsh,
               lambda a: la.matrix_power(a, 2)):
        with pytest.raises(ShapeError, match=r"argument a must be a square matrix"):
            fn(r(2, 3))
        with pytest.raises(ShapeError, match="argument a"):
            fn(r(3))
    with pytest.raises(la.LinAlgError, match="cholesky: the matrix is not positive definite"):
        la.cholesky(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ShapeError, match=r"solve: argument b of shape \(4,\)"):
        la.solve(well(3, 3), r(4))
    with pytest.raises(ShapeError, match=r"solve: argument b of shape \(2, 4, 1\)"):
        la.solve(well(3, 3), r(2, 4, 1))
    with pytest.raises(ShapeError, match="solve: the batch dimensions"):
        la.solve(well(2, 3, 3), r(3, 3, 1))
    with pytest.raises(ShapeError, match="svd: argument a must be a matrix"):
        la.svd(r(3))
    with pytest.raises(ValueError, match="qr: mode"):
        la.qr(r(3, 3), mode="raw")
    with pytest.raises(ValueError, match="UPLO"):
        la.eigh(r(3, 3), UPLO="X")
    with pytest.raises(TypeError):
        la.matrix_power(r(3, 3), 1.5)


def test_integer_input_is_promoted():
    a = np.array([[2, 1], [1, 3]])
    np.testing.assert_allclose(la.inv(a).data, np.linalg.inv(a))
    np.testing.assert_allclose(la.det(a).data, np.linalg.det(a))


# --------------------------------------------------------------------------- forward over forward


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_over_forward_matches_reverse_over_reverse(name):
    """v^T H v of <u, f(x)> by two nested jvps and by two nested grads."""
    f, inputs = CASES[name]
    local = np.random.default_rng(5)
    u = local.standard_normal(np.shape(f(*[cr.tensor(x) for x in inputs]).data))
    vs = tuple(local.standard_normal(x.shape) for x in inputs)

    def h(*xs):
        return (f(*xs) * u).sum()

    def dh(*xs):  # <grad h, v> in forward mode
        return cr.jvp(h, xs, vs)[1]

    fwd_fwd = cr.jvp(dh, tuple(inputs), vs)[1].data
    argnums = tuple(range(len(inputs)))

    def gv(*xs):
        gs = cr.grad(h, argnums=argnums)(*xs)
        return sum((g * v).sum() for g, v in zip(gs, vs))

    rev_rev = sum((g.data * v).sum() for g, v in
                  zip(cr.grad(gv, argnums=argnums)(*inputs), vs))
    np.testing.assert_allclose(fwd_fwd, rev_rev, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("shape", [(0, 3, 3), (2, 0, 0), (1, 1)])
def test_empty_batches_and_matrices(shape):
    a = np.zeros(shape) + 2 * np.eye(shape[-1])
    ops = {"inv": la.inv, "det": la.det, "slogdet": lambda x: la.slogdet(x)[1],
           "eigh": lambda x: la.eigh(x)[1], "svd": lambda x: la.svd(x)[0],
           "qr": lambda x: la.qr(x)[1], "cholesky": la.cholesky, "pinv": la.pinv}
    refs = {"inv": np.linalg.inv, "det": np.linalg.det,
            "slogdet": lambda x: np.linalg.slogdet(x)[1],
            "eigh": lambda x: np.linalg.eigh(x)[1], "svd": lambda x: np.linalg.svd(x)[0],
            "qr": lambda x: np.linalg.qr(x)[1], "cholesky": np.linalg.cholesky,
            "pinv": np.linalg.pinv}
    for name, f in ops.items():
        np.testing.assert_allclose(np.abs(f(a).data), np.abs(refs[name](a)), err_msg=name)
        assert cr.grad(lambda x, f=f: f(x).sum())(a).shape == a.shape
