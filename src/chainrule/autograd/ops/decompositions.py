"""Matrix functions and decompositions: inv, det, slogdet, solve, cholesky, qr, eigh, svd, pinv.

Every rule is written with differentiable tensor ops (matmul, solve, transposes, masks),
so gradients of gradients and tangents of tangents work. All ops are batched over leading
dimensions, ``(..., M, N)``, as NumPy's and PyTorch's.

**Several outputs.** A decomposition is one primitive whose forward computes the
factorization once and returns its factors *packed*: each factor flattened over its core
dimensions and concatenated along one last axis, ``(..., size_1 + size_2 + ...)``. The
public functions (``chainrule.linalg``) slice the factors out of that one node with
``getitem`` + ``reshape``; in reverse mode the cotangents of the slices land in their slots
of one packed cotangent, and in forward mode the jvp returns the packed tangent. The
engine needs nothing special for tuples of outputs.

**Symmetric input.** ``cholesky`` and ``eigh`` read only the lower triangle, as NumPy's; their
derivatives are those of the function of the symmetric matrix ``(A + A^T) / 2``: tangents are
symmetrized first and gradients come out symmetric (as PyTorch's and JAX's).

**Repeated eigenvalues / singular values.** Eigenvectors (singular vectors) are not
differentiable where two eigenvalues (singular values) coincide. The rules divide by the
gaps ``λj - λi`` (``sj² - si²``, and by ``s`` for the extra columns of a non-square SVD)
with :func:`_gap_divide`: where a gap is exactly zero, the term is 0 when nothing flows
through that pair (its numerator is 0, e.g. a loss of the eigenvalues alone, whose gradient
stays exact) and NaN otherwise — never a silent finite value. Nearly equal values give the
true, large derivatives.

**Singular matrices.** ``inv`` and ``solve`` raise :class:`LinAlgError` (naming the op) for
an exactly singular matrix, as NumPy; ``det``'s gradient there is the cofactor matrix
(adj(A)^T, through the SVD); ``slogdet``'s raises (log|det| = -inf); ``pinv`` is
differentiable where the rank is locally constant (its rcond cut-off is a discontinuity).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import ShapeError
from ..primitive import Joint, const, prim
from ..tensor import Tensor
from .elementwise import where
from .linalg import matmul
from .reductions import prod as _rprod
from .reductions import sum as _rsum
from .shape import concatenate, getitem, reshape, swapaxes

__all__: list[str] = []  # the public names live in chainrule.linalg (they clash: norm, inv...)


class LinAlgError(np.linalg.LinAlgError):
    """A linear-algebra failure (singular matrix, not positive definite), naming the op."""


def _mT(x: Tensor) -> Tensor:
    return swapaxes(x, -1, -2)


def _sym(x: Tensor) -> Tensor:
    return (x + _mT(x)) * 0.5


def _eye(n: int, like: Tensor) -> Tensor:
    return const(np.eye(n, dtype=like.data.dtype))


def _tril_mask(n: int, like: Tensor, k: int = 0, diag: float = 1.0) -> Tensor:
    m = np.tril(np.ones((n, n), dtype=like.data.dtype), k)
    if k >= 0:
        np.fill_diagonal(m, diag)
    return const(m)


def _diagonal(x: Tensor) -> Tensor:
    """(..., K, K) -> (..., K), differentiably."""
    return _rsum(x * _eye(x.shape[-1], x), axis=-1)


def _diag_embed(v: Tensor) -> Tensor:
    """(..., K) -> (..., K, K) with v on the diagonal."""
    return reshape(v, (*v.shape, 1)) * _eye(v.shape[-1], v)


def _trace(x: Tensor) -> Tensor:
    return _rsum(_diagonal(x), axis=-1)


def _gap_divide(num: Tensor, gap: Tensor) -> Tensor:
    """``num / gap`` off the diagonal, 0 on it. Where a gap is exactly 0 the quotient is
    undefined: 0 if the numerator (or its transposed partner) is 0, NaN otherwise."""
    n = num.shape[-1]
    off = ~np.eye(n, dtype=bool)
    zero = (gap.data == 0) & off
    if not zero.any():  # the common case: distinct values
        safe = where(off, gap, 1.0)
        return where(off, num / safe, 0.0)
    live = (num.data != 0) | (np.swapaxes(num.data, -1, -2) != 0)
    safe = where(zero | ~off, 1.0, gap)
    out = where(zero | ~off, 0.0, num / safe)
    bad = np.where(zero & live, np.nan, 0.0).astype(num.data.dtype)
    return out + const(bad) if bad.size and np.isnan(bad).any() else out


def _pairs_gap(w: Tensor) -> Tensor:
    """gap[..., i, j] = w[j] - w[i]."""
    return reshape(w, (*w.shape[:-1], 1, w.shape[-1])) - reshape(w, (*w.shape, 1))


def _column_divide(num: Tensor, s: Tensor) -> Tensor:
    """``num / s`` column by column (``num @ diag(s)^-1``) with the same rule at s == 0."""
    s_row = reshape(s, (*s.shape[:-1], 1, s.shape[-1]))
    zero = np.broadcast_to(s_row.data == 0, num.shape)
    if not zero.any():
        return num / s_row
    out = where(zero, 0.0, num / where(zero, 1.0, s_row))
    bad = np.where(zero & (num.data != 0), np.nan, 0.0).astype(num.data.dtype)
    return out + const(bad)


# --------------------------------------------------------------------------- packing


def _pack_np(*arrays: np.ndarray, batch: tuple) -> np.ndarray:
    nb = len(batch)
    return np.concatenate([a.reshape(batch + (math.prod(a.shape[nb:]),)) for a in arrays],
                          axis=-1)


def unpack(p: Tensor, shapes: list[tuple]) -> list[Tensor]:
    """The factors of a packed tensor ``(..., total)``: one tensor ``(..., *shape)`` each."""
    batch, lo, out = p.shape[:-1], 0, []
    for sh in shapes:
        n = math.prod(sh)
        out.append(reshape(getitem(p, (Ellipsis, slice(lo, lo + n))), batch + tuple(sh)))
        lo += n
    return out


def _pack(parts: list[Tensor], batch: tuple) -> Tensor:
    nb = len(batch)
    return concatenate([reshape(t, batch + (math.prod(t.shape[nb:]),)) for t in parts],
                       axis=-1)


def _call_np(name: str, fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except np.linalg.LinAlgError as e:
        reason = "the matrix is singular" if "ingular" in str(e) else str(e)
        if name == "cholesky":
            reason = "the matrix is not positive definite"
        raise LinAlgError(f"{name}: {reason}") from None


# --------------------------------------------------------------------------- inv, det, solve


def _solve_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _call_np("solve", np.linalg.solve, a, b)


def _solve_vjp(g: Tensor, y: Tensor, a: Tensor, b: Tensor) -> tuple:
    gb = solve_matrix(_mT(a), g)
    return -matmul(gb, _mT(y)), gb


# a x = b with b of shape (..., M, K); the public solve handles a vector b
_solve = prim("linalg_solve", _solve_np, vjp=Joint(_solve_vjp),
              jvp=(lambda t, y, a, b: -solve_matrix(a, matmul(t, y)),
                   lambda t, y, a, b: solve_matrix(a, t)))


def solve_matrix(a: Tensor, b: Tensor) -> Tensor:
    return _solve(a, b)


_inv = prim("linalg_inv", lambda x: _call_np("inv", np.linalg.inv, x),
            vjp=lambda g, y, x: -matmul(_mT(y), matmul(g, _mT(y))),
            jvp=lambda t, y, x: -matmul(y, matmul(t, y)))


def _inv_for(name: str, x: Tensor) -> Tensor:
    try:
        return _inv(x)
    except ShapeError as e:
        if isinstance(e.__context__, LinAlgError):
            raise LinAlgError(f"{name}: no gradient at a singular matrix (log|det| is "
                              f"-inf there)") from None
        raise


def _scalar_to_matrix(v: Tensor) -> Tensor:
    return reshape(v, (*v.shape, 1, 1))


def _cofactors(x: Tensor) -> Tensor:
    """adj(A)^T for any square A, singular included, from A = U diag(s) Vh:
    adj(A) = det(U) det(Vh) Vh^T diag(prod_{j != i} s_j) U^T (differentiable where the
    singular values are distinct, e.g. at rank N - 1)."""
    n = x.shape[-1]
    if n == 1:
        return const(np.ones_like(x.data))
    u, s, vh = unpack(svd_packed(x), svd_shapes(x))
    sign = const((np.linalg.det(u.data) * np.linalg.det(vh.data))[..., None, None])
    others = _rprod(where(np.eye(n, dtype=bool), 1.0, _row(s)), axis=-1)  # (..., N)
    return matmul(u * _row(others), vh) * sign


def _singular(y: Tensor) -> bool:
    return bool((y.data == 0).any())


def _det_vjp(g: Tensor, y: Tensor, x: Tensor) -> Tensor:
    if not _singular(y):
        try:
            return _scalar_to_matrix(g * y) * _mT(_inv(x))
        except ShapeError as e:  # singular to LAPACK although det != 0
            if not isinstance(e.__context__, LinAlgError):
                raise
    return _scalar_to_matrix(g) * _cofactors(x)


def _det_jvp(t: Tensor, y: Tensor, x: Tensor) -> Tensor:
    if not _singular(y):
        return y * _trace(solve_matrix(x, t))
    return _rsum(_rsum(_cofactors(x) * t, axis=-1), axis=-1)


# d det = tr(adj(A) dA): det(A) A^-T as a vjp, the cofactors where A is singular
_det = prim("linalg_det", np.linalg.det, vjp=_det_vjp, jvp=_det_jvp)


def _slogdet_np(x: np.ndarray) -> np.ndarray:
    sign, logabs = np.linalg.slogdet(x)
    return np.stack([sign, logabs], axis=-1)


def _slogdet_vjp(g: Tensor, y: Tensor, x: Tensor) -> Tensor:
    return _scalar_to_matrix(getitem(g, (Ellipsis, 1))) * _mT(_inv_for("slogdet", x))


def _slogdet_jvp(t: Tensor, y: Tensor, x: Tensor) -> Tensor:
    d = reshape(_trace(solve_matrix(x, t)), (*y.shape[:-1], 1))
    return concatenate([d * 0.0, d], axis=-1)  # the sign is locally constant


# packed (..., 2): [sign, log|det|]
_slogdet = prim("linalg_slogdet", _slogdet_np, vjp=_slogdet_vjp, jvp=_slogdet_jvp)


# --------------------------------------------------------------------------- cholesky


def _right_solve_lower_t(x: Tensor, lo: Tensor) -> Tensor:
    """x @ lo^-T."""
    return _mT(solve_matrix(lo, _mT(x)))


def _cholesky_jvp(t: Tensor, y: Tensor, x: Tensor) -> Tensor:
    n = x.shape[-1]
    inner = solve_matrix(y, _right_solve_lower_t(_sym(t), y))  # L^-1 S L^-T
    return matmul(y, inner * _tril_mask(n, x, 0, 0.5))


def _cholesky_vjp(g: Tensor, y: Tensor, x: Tensor) -> Tensor:
    n = x.shape[-1]
    p = matmul(_mT(y), g) * _tril_mask(n, x, 0, 0.5)
    z = solve_matrix(_mT(y), p)  # L^-T P
    return _sym(_mT(solve_matrix(_mT(y), _mT(z))))  # L^-T P L^-1


cholesky_lower = prim("linalg_cholesky", lambda x: _call_np("cholesky", np.linalg.cholesky, x),
                      vjp=_cholesky_vjp, jvp=_cholesky_jvp)


# --------------------------------------------------------------------------- qr (M >= N)


def _qr_np(x: np.ndarray) -> np.ndarray:
    q, r = np.linalg.qr(x)
    return _pack_np(q, r, batch=x.shape[:-2])


def _qr_shapes(x: Tensor) -> list[tuple]:
    m, n = x.shape[-2:]
    return [(m, n), (n, n)]


def _right_solve_upper(x: Tensor, r: Tensor) -> Tensor:
    """x @ r^-1."""
    return _mT(solve_matrix(_mT(r), _mT(x)))


def _qr_jvp(t: Tensor, y: Tensor, x: Tensor) -> Tensor:
    q, r = unpack(y, _qr_shapes(x))
    n = x.shape[-1]
    c = _right_solve_upper(matmul(_mT(q), t), r)  # Q^T dA R^-1
    low = c * _tril_mask(n, x, -1)
    c_minus_omega = c - low + _mT(low)
    dr = matmul(c_minus_omega, r)
    dq = _right_solve_upper(t, r) - matmul(q, c_minus_omega)
    return _pack([dq, dr], x.shape[:-2])


def _qr_vjp(g: Tensor, y: Tensor, x: Tensor) -> Tensor:
    shapes = _qr_shapes(x)
    q, r = unpack(y, shapes)
    gq, gr = unpack(g, shapes)
    n = x.shape[-1]
    m = matmul(r, _mT(gr)) - matmul(_mT(gq), q)
    copyltu = m * _tril_mask(n, x, 0) + _mT(m * _tril_mask(n, x, -1))
    return _mT(solve_matrix(r, _mT(gq + matmul(q, copyltu))))  # (...) R^-T


# packed (..., M*N + N*N): [Q (M, N), R (N, N)], reduced, M >= N
qr_tall = prim("linalg_qr", _qr_np, vjp=_qr_vjp, jvp=_qr_jvp)


# --------------------------------------------------------------------------- eigh


def _eigh_np(x: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(x)
    return _pack_np(w, v, batch=x.shape[:-2])


def eigh_shapes(x: Tensor) -> list[tuple]:
    n = x.shape[-1]
    return [(n,), (n, n)]


def _eigh_jvp(t: Tensor, y: Tensor, x: Tensor) -> Tensor:
    w, v = unpack(y, eigh_shapes(x))
    p = matmul(_mT(v), matmul(_sym(t), v))
    dv = matmul(v, _gap_divide(p, _pairs_gap(w)))
    return _pack([_diagonal(p), dv], x.shape[:-2])


def _eigh_vjp(g: Tensor, y: Tensor, x: Tensor) -> Tensor:
    shapes = eigh_shapes(x)
    w, v = unpack(y, shapes)
    gw, gv = unpack(g, shapes)
    k = matmul(_mT(v), gv)
    inner = _diag_embed(gw) + _gap_divide((k - _mT(k)) * 0.5, _pairs_gap(w))
    return _sym(matmul(v, matmul(inner, _mT(v))))


# packed (..., N + N*N): [eigenvalues (N,), eigenvectors (N, N)], from the lower triangle
eigh_packed = prim("linalg_eigh", _eigh_np, vjp=_eigh_vjp, jvp=_eigh_jvp)


# --------------------------------------------------------------------------- svd


def _svd_np(x: np.ndarray) -> np.ndarray:
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    return _pack_np(u, s, vh, batch=x.shape[:-2])


def svd_shapes(x: Tensor) -> list[tuple]:
    m, n = x.shape[-2:]
    k = min(m, n)
    return [(m, k), (k,), (k, n)]


def _row(s: Tensor) -> Tensor:
    return reshape(s, (*s.shape[:-1], 1, s.shape[-1]))


def _col(s: Tensor) -> Tensor:
    return reshape(s, (*s.shape, 1))


def _svd_jvp(t: Tensor, y: Tensor, x: Tensor) -> Tensor:
    m, n = x.shape[-2:]
    u, s, vh = unpack(y, svd_shapes(x))
    v = _mT(vh)
    gap = _pairs_gap(s * s)
    tv = matmul(t, v)
    dp = matmul(_mT(u), tv)
    du = matmul(u, _gap_divide(dp * _row(s) + _col(s) * _mT(dp), gap))
    dv = matmul(v, _gap_divide(_col(s) * dp + _mT(dp) * _row(s), gap))
    if m > n:
        du = du + _column_divide(tv - matmul(u, dp), s)
    if n > m:
        dv = dv + _column_divide(matmul(_mT(t), u) - matmul(v, _mT(dp)), s)
    return _pack([du, _diagonal(dp), _mT(dv)], x.shape[:-2])


def _svd_vjp(g: Tensor, y: Tensor, x: Tensor) -> Tensor:
    m, n = x.shape[-2:]
    shapes = svd_shapes(x)
    u, s, vh = unpack(y, shapes)
    gu, gs, gvh = unpack(g, shapes)
    v, gv = _mT(vh), _mT(gvh)
    gap = _pairs_gap(s * s)
    ju, jv = matmul(_mT(u), gu), matmul(_mT(v), gv)
    inner = (_gap_divide(ju - _mT(ju), gap) * _row(s) + _diag_embed(gs)
             + _col(s) * _gap_divide(jv - _mT(jv), gap))
    ga = matmul(u, matmul(inner, vh))
    if m > n:
        ga = ga + matmul(_column_divide(gu - matmul(u, ju), s), vh)
    if n > m:
        ga = ga + matmul(u, _mT(_column_divide(gv - matmul(v, jv), s)))
    return ga


# packed (..., M*K + K + K*N): [U (M, K), S (K,), Vh (K, N)], K = min(M, N)
svd_packed = prim("linalg_svd", _svd_np, vjp=_svd_vjp, jvp=_svd_jvp)


# --------------------------------------------------------------------------- pinv


def _pinv_jvp(t: Tensor, y: Tensor, x: Tensor, rcond: float, hermitian: bool) -> Tensor:
    m, n = x.shape[-2:]
    ta = _mT(t)
    left = _eye(m, x) - matmul(x, y)   # I - A A+
    right = _eye(n, x) - matmul(y, x)  # I - A+ A
    return (-matmul(y, matmul(t, y)) + matmul(matmul(y, _mT(y)), matmul(ta, left))
            + matmul(right, matmul(ta, matmul(_mT(y), y))))


def _pinv_vjp(g: Tensor, y: Tensor, x: Tensor, rcond: float, hermitian: bool) -> Tensor:
    m, n = x.shape[-2:]
    yt, gt = _mT(y), _mT(g)
    left = _eye(m, x) - matmul(x, y)
    right = _eye(n, x) - matmul(y, x)
    return (-matmul(yt, matmul(g, yt)) + matmul(left, matmul(gt, matmul(y, yt)))
            + matmul(matmul(yt, y), matmul(gt, right)))


pinv_matrix = prim("linalg_pinv", lambda x, rcond, hermitian: np.linalg.pinv(
    x, rcond=rcond, hermitian=hermitian), vjp=_pinv_vjp, jvp=_pinv_jvp)
