"""``chainrule.linalg``: NumPy's ``numpy.linalg`` over tensors, differentiable to any order.

``inv det slogdet solve cholesky qr eigh eigvalsh svd svdvals pinv matrix_power norm
vector_norm matrix_norm``, with NumPy's signatures and batching over leading dimensions
(``(..., M, N)``), and the rest of NumPy 2's namespace as compositions (``cond lstsq
matrix_rank multi_dot tensorinv tensorsolve cross diagonal matmul matrix_transpose outer
tensordot trace vecdot``); not here: ``eig``/``eigvals`` (complex results). Every
derivative is checked against finite differences (first and second order, reverse and
forward mode) and against ``torch.linalg``.

Ops with several outputs return named tuples (``SlogdetResult``, ``QRResult``,
``EighResult``, ``SVDResult``, as NumPy 2) whose elements all differentiate: each
decomposition is computed once, as one node, and every factor is a slice of it (see
``chainrule.autograd.ops.decompositions``).

Where derivatives do not exist (docs/engine.md, "Linear algebra"):

* **repeated eigenvalues / singular values**: the gradient through eigenvectors (singular
  vectors) contains ``1 / (λj - λi)``; where a gap is exactly 0, the pair's term is 0 when
  nothing flows through it (a loss of the eigenvalues or singular values alone keeps its
  exact gradient, e.g. ``norm(A, 'nuc')`` or ``eigvalsh``) and NaN otherwise. The same rule
  covers ``1 / s`` at a zero singular value of a non-square matrix.
* **singular matrices**: ``inv``/``solve`` raise ``LinAlgError`` naming the op (as NumPy);
  ``det`` is 0 there and its gradient is the cofactor matrix ``adj(A)^T`` (computed through
  the SVD; second order too where the singular values are distinct); ``slogdet`` gives
  ``(0, -inf)`` and its gradient raises ``LinAlgError``.
* ``cholesky``/``eigh`` read one triangle (NumPy's ``UPLO``); their derivatives are those
  of the symmetric matrix: tangents are symmetrized, gradients are symmetric (PyTorch, JAX).
* ``svd(full_matrices=True)`` and ``qr(mode="complete")`` with extra columns: those
  columns are not unique; they are constants (gradients through them are ignored, as in
  PyTorch; their tangent is 0). The other factors differentiate normally.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any, NamedTuple

import numpy as np

from .autograd.ops import (
    abs,  # noqa: A004
    building,
    concatenate,
    getitem,
    lift,
    matmul,
    max,  # noqa: A004
    min,  # noqa: A004
    reshape,
    squeeze,
    sum,  # noqa: A004
    swapaxes,
    transpose,
)
from .autograd.ops import norm as _l2norm
from .autograd.ops.decompositions import (
    LinAlgError,
    _det,
    _inv,
    _slogdet,
    cholesky_lower,
    eigh_packed,
    eigh_shapes,
    pinv_matrix,
    qr_tall,
    solve_matrix,
    svd_packed,
    svd_shapes,
    unpack,
)
from .autograd.primitive import const
from .autograd.tensor import Tensor
from .errors import ShapeError

__all__ = ["EighResult", "LinAlgError", "QRResult", "SVDResult", "SlogdetResult", "cholesky",
           "det", "eigh", "eigvalsh", "inv", "matrix_norm", "matrix_power", "norm", "pinv",
           "qr", "slogdet", "solve", "svd", "svdvals", "vector_norm",
           # the rest of numpy.linalg
           "cond", "cross", "diagonal", "lstsq", "matmul", "matrix_rank", "matrix_transpose",
           "multi_dot", "outer", "tensordot", "tensorinv", "tensorsolve", "trace", "vecdot"]


class SlogdetResult(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


class QRResult(NamedTuple):
    Q: Tensor
    R: Tensor


class EighResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class SVDResult(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


def _matrix(name: str, a: Any, square: bool = True) -> Tensor:
    a = lift(a)
    if a.data.dtype.kind not in "fc":
        a = Tensor(a.data.astype(np.float64))
    if a.ndim < 2 or (square and a.shape[-1] != a.shape[-2]):
        kind = "square matrix (..., N, N)" if square else "matrix (..., M, N)"
        raise ShapeError(f"{name}: argument a must be a {kind} or a stack of them, got shape "
                         f"{a.shape}")
    return a


def _run(p: Any, *args: Tensor, **params: Any) -> Tensor:
    """Call a primitive; a LinAlgError from its forward comes out as itself (the call turns
    a ValueError into a ShapeError)."""
    try:
        return p(*args, **params)
    except ShapeError as e:
        if isinstance(e.__context__, LinAlgError):
            raise LinAlgError(str(e.__context__)) from None
        raise


def _mT(x: Tensor) -> Tensor:
    return swapaxes(x, -1, -2)


# --------------------------------------------------------------------------- inverses


def inv(a: Any) -> Tensor:
    """Inverse of a square matrix (batched). Singular: ``LinAlgError``. d inv = -inv dA inv."""
    return _run(_inv, _matrix("inv", a))


def det(a: Any) -> Tensor:
    """Determinant (batched). Gradient ``g det(A) A^-T``, and at an exactly singular matrix
    the cofactor matrix ``adj(A)^T`` (through the SVD)."""
    return _run(_det, _matrix("det", a))


def slogdet(a: Any) -> SlogdetResult:
    """``(sign, log|det|)`` from one factorization; ``sign`` is locally constant (zero
    derivative), ``log|det|`` has gradient ``A^-T``."""
    p = _run(_slogdet, _matrix("slogdet", a))
    return SlogdetResult(getitem(p, (Ellipsis, 0)), getitem(p, (Ellipsis, 1)))


def solve(a: Any, b: Any) -> Tensor:
    """``x`` with ``a @ x == b`` (NumPy 2 rules: ``b`` is a vector only when 1-D, else
    ``(..., M, K)``; batch dimensions broadcast). Singular ``a``: ``LinAlgError``."""
    a = _matrix("solve", a)
    b = lift(b)
    m = a.shape[-1]
    vector = b.ndim == 1
    if b.ndim == 0 or (b.shape[0] if vector else b.shape[-2]) != m:
        raise ShapeError(f"solve: argument b of shape {b.shape} does not fit a of shape "
                         f"{a.shape} (expected ({m},) or (..., {m}, K))")
    if not vector:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ShapeError(f"solve: the batch dimensions of a {a.shape} and b {b.shape} "
                             f"do not broadcast") from None
    if b.data.dtype != a.data.dtype:
        b = Tensor(b.data.astype(a.data.dtype)) if not b._rg else b
    x = _run(solve_matrix, a, reshape(b, (m, 1)) if vector else b)
    return squeeze(x, -1) if vector else x


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Tensor:
    """Moore-Penrose pseudo-inverse (batched; ``rcond``/``rtol`` as NumPy, default 1e-15).
    Differentiable where the rank is locally constant (Golub & Pereyra's formula)."""
    cut = rcond if rcond is not None else (rtol if rtol is not None else 1e-15)
    return _run(pinv_matrix, _matrix("pinv", a, square=False), rcond=cut,
                hermitian=bool(hermitian))


def matrix_power(a: Any, n: int) -> Tensor:
    """``a`` to the integer power ``n`` by repeated squaring (``n < 0``: of ``inv(a)``)."""
    a = _matrix("matrix_power", a)
    n = operator.index(n)
    if n == 0:
        return Tensor(np.broadcast_to(np.eye(a.shape[-1], dtype=a.data.dtype), a.shape).copy())
    if n < 0:
        a, n = inv(a), -n
    result = None
    while n:
        if n & 1:
            result = a if result is None else matmul(result, a)
        n >>= 1
        if n:
            a = matmul(a, a)
    return result


# --------------------------------------------------------------------------- decompositions


def cholesky(a: Any, upper: bool = False) -> Tensor:
    """Lower factor ``L`` with ``a = L L^T`` (``upper=True``: ``L^T``), from the lower
    triangle. Not positive definite: ``LinAlgError('cholesky: ...')``."""
    lo = _run(cholesky_lower, _matrix("cholesky", a))
    return _mT(lo) if upper else lo


def qr(a: Any, mode: str = "reduced") -> Any:
    """QR decomposition, NumPy's modes ``'reduced'`` (default), ``'complete'`` and ``'r'``."""
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    a = _matrix("qr", a, square=False)
    m, n = a.shape[-2:]
    if m >= n:
        q, r = unpack(qr_tall(a), [(m, n), (n, n)])
        if mode == "complete" and m > n:  # the extra columns are constants (not unique)
            full = np.linalg.qr(a.data, mode="complete")[0][..., n:]
            q = concatenate([q, const(full)], axis=-1)
            r = concatenate([r, const(np.zeros((*a.shape[:-2], m - n, n), a.data.dtype))],
                            axis=-2)
    else:  # wide: the QR of the first M columns, then R's other columns are Q^T a
        q, r_left = unpack(qr_tall(getitem(a, (Ellipsis, slice(0, m)))), [(m, m), (m, m)])
        r = concatenate([r_left, matmul(_mT(q), getitem(a, (Ellipsis, slice(m, n))))],
                        axis=-1)
    return r if mode == "r" else QRResult(q, r)


def _symmetric_input(name: str, a: Any, uplo: str) -> Tensor:
    if uplo not in ("L", "U"):
        raise ValueError(f"{name}: UPLO must be 'L' or 'U', got {uplo!r}")
    a = _matrix(name, a)
    return a if uplo == "L" else _mT(a)  # the upper triangle of a is the lower of a^T


def eigh(a: Any, UPLO: str = "L") -> EighResult:  # noqa: N803  (NumPy's name)
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix, from one triangle.
    At exactly repeated eigenvalues the eigenvectors' derivative is NaN (module docstring)."""
    a = _symmetric_input("eigh", a, UPLO)
    w, v = unpack(eigh_packed(a), eigh_shapes(a))
    return EighResult(w, v)


def eigvalsh(a: Any, UPLO: str = "L") -> Tensor:  # noqa: N803
    """Eigenvalues of a symmetric matrix (exact gradients at repeated eigenvalues too)."""
    return eigh(a, UPLO).eigenvalues


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """``U, S, Vh`` with ``a = U diag(S) Vh`` (NumPy's defaults: ``full_matrices=True``).
    ``compute_uv=False`` returns ``S`` alone; ``hermitian`` is accepted and ignored (the
    general SVD is used). The extra columns of a full decomposition are constants; at
    repeated singular values the singular vectors' derivative is NaN."""
    a = _matrix("svd", a, square=False)
    u, s, vh = unpack(svd_packed(a), svd_shapes(a))
    if not compute_uv:
        return s
    m, n = a.shape[-2:]
    if full_matrices and m != n:
        uf, _, vhf = np.linalg.svd(a.data, full_matrices=True)
        k = builtins.min(m, n)
        if m > n:
            u = concatenate([u, const(uf[..., k:])], axis=-1)
        else:
            vh = concatenate([vh, const(vhf[..., k:, :])], axis=-2)
    return SVDResult(u, s, vh)


def svdvals(x: Any) -> Tensor:
    """Singular values, descending (exact gradients at repeated values too)."""
    return svd(x, compute_uv=False)


# --------------------------------------------------------------------------- norms


def vector_norm(x: Any, ord: Any = 2, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """``(sum |x|^ord)^(1/ord)`` over ``axis`` (all by default); ord 0 counts non-zeros
    (zero derivative), inf/-inf take max/min of ``|x|``. The 2-norm's gradient at 0 is 0."""
    x = lift(x)
    if axis is None and not keepdims:
        x = reshape(x, (-1,))
    axis = None if axis is None else axis
    if ord is None or ord == 2:
        return _l2norm(x, axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"vector_norm: invalid ord {ord!r} for a vector norm")
    if ord == np.inf:
        return max(abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return min(abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return Tensor(np.sum(x.data != 0, axis=axis, keepdims=keepdims).astype(x.data.dtype))
    if ord == 1:
        return sum(abs(x), axis=axis, keepdims=keepdims)
    p = float(ord)
    return sum(abs(x) ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def _to_end(x: Tensor, r: int, c: int) -> Tensor:
    rest = [i for i in range(x.ndim) if i not in (r, c)]
    return transpose(x, (*rest, r, c))


def _restore(y: Tensor, ndim: int, r: int, c: int, keepdims: bool) -> Tensor:
    if not keepdims:
        return y
    shape = list(y.shape)
    for ax in sorted((r, c)):
        shape.insert(ax, 1)
    return reshape(y, tuple(shape))


def matrix_norm(x: Any, ord: Any = "fro", keepdims: bool = False) -> Tensor:  # noqa: A002
    """Norm of the matrices over the last two axes (``'fro' 'nuc' 1 -1 2 -2 inf -inf``)."""
    return _matrix_norm(lift(x), ord, (-2, -1), keepdims)


def _matrix_norm(x: Tensor, ord: Any, axis: tuple, keepdims: bool) -> Tensor:  # noqa: A002
    if x.ndim < 2:
        raise ShapeError(f"norm: a matrix norm needs at least 2 dimensions, got {x.shape}")
    r, c = (int(a) % x.ndim for a in axis)
    if r == c:
        raise ValueError(f"norm: duplicate axes {axis}")
    if ord is None or ord == "fro":
        return _l2norm(x, axis=(r, c), keepdims=keepdims)
    if ord in ("nuc", 2, -2):
        s = svdvals(_to_end(x, r, c))
        y = sum(s, axis=-1) if ord == "nuc" else (max if ord == 2 else min)(s, axis=-1)
        return _restore(y, x.ndim, r, c, keepdims)
    if ord in (1, -1, np.inf, -np.inf):
        inner, outer = (r, c) if ord in (1, -1) else (c, r)
        pick = max if ord in (1, np.inf) else min
        y = pick(sum(abs(x), axis=inner, keepdims=True), axis=outer, keepdims=True)
        return y if keepdims else squeeze(y, axis=(r, c))
    raise ValueError(f"norm: invalid ord {ord!r} for a matrix norm")


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """``numpy.linalg.norm``: a vector norm over one axis, a matrix norm over two, and with
    ``axis=None`` the 2-norm of everything (``ord=None``) or the norm of a 1-D/2-D ``x``."""
    x = lift(x)
    if axis is None:
        if ord is None:
            y = _l2norm(reshape(x, (-1,)))
            return reshape(y, (1,) * x.ndim) if keepdims else y
        if x.ndim == 1:
            return vector_norm(x, ord, axis=0, keepdims=keepdims)
        if x.ndim == 2:
            return _matrix_norm(x, ord, (0, 1), keepdims)
        raise ValueError(f"norm: ord={ord!r} needs a 1-D or 2-D input or an axis, got shape "
                         f"{x.shape}")
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    axis = tuple(axis)
    if len(axis) == 1:
        return vector_norm(x, 2 if ord is None else ord, axis=axis[0], keepdims=keepdims)
    if len(axis) == 2:
        return _matrix_norm(x, ord, axis, keepdims)
    raise ValueError(f"norm: axis must be an int or a pair, got {axis}")


# --------------------------------------------------------------------------- the rest of
# NumPy 2's numpy.linalg: compositions of differentiable ops (on the last axes)

tensordot = building.tensordot


def matrix_transpose(x: Any) -> Tensor:
    """Swap the last two axes (``(..., M, N) -> (..., N, M)``)."""
    x = lift(x)
    if x.ndim < 2:
        raise ShapeError(f"matrix_transpose: argument x must be at least 2-D, got {x.shape}")
    return swapaxes(x, -1, -2)


def diagonal(x: Any, offset: int = 0) -> Tensor:
    """The diagonals of the matrices over the last two axes."""
    return building.diagonal(x, offset, -2, -1)


def trace(x: Any, offset: int = 0) -> Tensor:
    """Traces of the matrices over the last two axes."""
    return sum(diagonal(x, offset), axis=-1)


def outer(x1: Any, x2: Any) -> Tensor:
    """Outer product of two 1-D tensors."""
    a, b = lift(x1), lift(x2)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: arguments must be 1-D, got {a.shape} and {b.shape}")
    return building.outer(a, b)


def cross(x1: Any, x2: Any, axis: int = -1) -> Tensor:
    """Cross product of 3-vectors along ``axis``."""
    a, b = lift(x1), lift(x2)
    if a.shape[axis] != 3 or b.shape[axis] != 3:
        raise ShapeError(f"cross: both arguments need size 3 along axis {axis}, got "
                         f"{a.shape} and {b.shape}")
    return building.cross(a, b, axis=axis)


def vecdot(x1: Any, x2: Any, axis: int = -1) -> Tensor:
    """Dot products of vectors along ``axis`` (broadcasting the other axes)."""
    return sum(lift(x1) * lift(x2), axis=axis)


def multi_dot(arrays: Any) -> Tensor:
    """``A @ B @ C ...`` (a 1-D first/last argument is a row/column vector), left to right."""
    ts = [lift(a) for a in arrays]
    if len(ts) < 2:
        raise ValueError("multi_dot: need at least two arrays")
    out = ts[0]
    for t in ts[1:]:
        out = matmul(out, t)
    return out


def matrix_rank(a: Any, tol: Any = None, hermitian: bool = False, *,
                rtol: Any = None) -> Tensor:
    """Number of singular values above the tolerance (an integer: no derivative)."""
    data = a.data if isinstance(a, Tensor) else np.asarray(a)
    kw = {} if rtol is None else {"rtol": rtol}
    return Tensor(np.asarray(np.linalg.matrix_rank(data, tol, hermitian, **kw)))


def cond(x: Any, p: Any = None) -> Tensor:
    """Condition number: ``s_max / s_min`` (p None or 2), ``s_min / s_max`` (-2), else
    ``norm(x, p) * norm(inv(x), p)`` over the last two axes."""
    x = lift(x)
    if p is None or p in (2, -2):
        s = svdvals(x)
        hi, lo = s[..., 0], s[..., -1]
        return lo / hi if p == -2 else hi / lo
    return matrix_norm(x, p) * matrix_norm(inv(x), p)


def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple:
    """Least squares ``(x, residuals, rank, s)`` as ``numpy.linalg.lstsq`` (2-D ``a``);
    ``x = pinv(a) b`` differentiates where the rank is locally constant."""
    a, b = lift(a), lift(b)
    if a.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise ShapeError(f"lstsq: a must be 2-D and b of shape ({a.shape[0] if a.ndim else '?'},"
                         f") or ({a.shape[0] if a.ndim else '?'}, K), got {a.shape} and "
                         f"{b.shape}")
    m, n = a.shape
    eps = np.finfo(a.data.dtype if a.data.dtype.kind == "f" else np.float64).eps
    cut = eps * builtins.max(m, n) if rcond is None else rcond
    x = matmul(pinv(a, cut), b)
    rank = Tensor(np.asarray(np.linalg.matrix_rank(a.data, tol=None if rcond is None else
                                                   cut * np.linalg.norm(a.data, 2))))
    if int(rank.item()) == n and m > n:
        res = sum((matmul(a, x) - b) ** 2, axis=0)
        res = reshape(res, (1,)) if b.ndim == 1 else res
    else:
        res = Tensor(np.zeros((0,), dtype=x.data.dtype))
    return x, res, rank, svdvals(a)


def tensorinv(a: Any, ind: int = 2) -> Tensor:
    """Inverse of ``a`` seen as a matrix (first ``ind`` axes x the rest)."""
    a = lift(a)
    rows, cols = math.prod(a.shape[:ind]), math.prod(a.shape[ind:])
    if ind <= 0 or rows != cols:
        raise ShapeError(f"tensorinv: shape {a.shape} with ind={ind} is not square")
    return reshape(inv(reshape(a, (rows, cols))), a.shape[ind:] + a.shape[:ind])


def tensorsolve(a: Any, b: Any, axes: Any = None) -> Tensor:
    """``x`` with ``tensordot(a, x, x.ndim) == b``, as ``numpy.linalg.tensorsolve``."""
    a, b = lift(a), lift(b)
    if axes is not None:
        axes = [ax % a.ndim for ax in axes]
        rest = [i for i in range(a.ndim) if i not in axes]
        a = transpose(a, rest + axes)
    x_shape = a.shape[b.ndim:]
    rows, cols = math.prod(b.shape), math.prod(x_shape)
    if rows != cols or a.shape[:b.ndim] != b.shape:
        raise ShapeError(f"tensorsolve: a of shape {a.shape} does not fit b of shape {b.shape}")
    return reshape(solve(reshape(a, (rows, cols)), reshape(b, (rows,))), x_shape)
