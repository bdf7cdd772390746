"""Linear algebra: matmul, the fused ``linear`` layer op, einsum.

All three are linear in each argument separately (``bilinear``/``multilinear``): the jvp
for an argument is the op with that argument replaced by its tangent; only the
transposes (the vjps) are written here.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ...errors import ShapeError
from ..primitive import Each, bilinear, lift, lift_pair, multilinear, prim
from ..tensor import Tensor
from .shape import broadcast_to, getitem, reshape, squeeze, swapaxes, transpose, unsqueeze

__all__ = ["einsum", "linear", "matmul"]


def _mm_vjp_a(g: Tensor, y: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if b.ndim == 1:
        return unsqueeze(g, -1) * b
    if a.ndim == 1:
        return squeeze(matmul(b, unsqueeze(g, -1)), -1)
    return matmul(g, swapaxes(b, -1, -2))


def _mm_vjp_b(g: Tensor, y: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if a.ndim == 1:
        return g * a if b.ndim == 1 else unsqueeze(a, -1) * unsqueeze(g, -2)
    if b.ndim == 1:
        return squeeze(matmul(swapaxes(a, -1, -2), unsqueeze(g, -1)), -1)
    return matmul(swapaxes(a, -1, -2), g)


_matmul = bilinear("matmul", np.matmul, _mm_vjp_a, _mm_vjp_b)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules (batched; 1-D operands promoted and removed)."""
    a, b = lift_pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must be at least 1-D, got shapes "
                         f"{a.shape} and {b.shape}")
    return _matmul(a, b)


# --------------------------------------------------------------------------- linear


def _xwt(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w.T`` for x (..., in): stacked inputs go through one 2-D product (NumPy's
    stacked matmul with a transposed operand skips BLAS: 20x slower at (32, 128, 128))."""
    if x.ndim <= 2:
        return x @ w.T
    return (x.reshape(-1, x.shape[-1]) @ w.T).reshape(*x.shape[:-1], w.shape[0])


def _linear_np(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    y = _xwt(x, w)
    if y.dtype == np.result_type(y, b):
        y += b
        return y
    return y + b


def _linear_vjp_w(g: Tensor, y: Tensor, x: Tensor, w: Tensor, b: Tensor | None = None
                  ) -> Tensor:
    if x.ndim != 2:
        g, x = reshape(g, (-1, g.shape[-1])), reshape(x, (-1, x.shape[-1]))
    return matmul(transpose(g), x)


# x @ w.T; its weight cotangent comes out in the weight's own layout.
_linear_nobias = bilinear("linear_nobias", _xwt,
                          lambda g, y, x, w: matmul(g, w), _linear_vjp_w)
# x @ w.T + b: bilinear in (x, w) plus a bias, in one node
_linear = prim("linear", _linear_np,
               vjp=(lambda g, y, x, w, b: matmul(g, w), _linear_vjp_w, lambda g, y, x, w, b: g),
               jvp=(lambda t, y, x, w, b: _linear_nobias(t, w),
                    lambda t, y, x, w, b: _linear_nobias(x, t),
                    lambda t, y, x, w, b: t))


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` as one fused node. x: (..., in), weight: (out, in), bias: (out,)."""
    x = lift(x)
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(f"linear: input of shape {x.shape} does not fit a weight of shape "
                         f"{weight.shape} (expected last input dim {weight.shape[-1]})")
    if bias is None:
        return _linear_nobias(x, weight)
    return _linear(x, weight, bias)


# --------------------------------------------------------------------------- einsum

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(subscripts: str, shapes: list[tuple]) -> tuple[list[str], str]:
    """Explicit subscripts with '...' replaced by letters and the output made explicit."""
    s = subscripts.replace(" ", "")
    lhs, arrow, rhs = s.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ShapeError(f"einsum: '{subscripts}' names {len(ins)} operands, got {len(shapes)}")
    used = set(c for c in s if c.isalpha())
    free = [c for c in _LETTERS if c not in used]
    nell = builtins.max([len(sh) - len(sub.replace("...", "")) for sub, sh in
                         zip(ins, shapes) if "..." in sub] or [0])
    ell = "".join(free[:nell])
    fixed = []
    for sub, sh in zip(ins, shapes):
        if "..." in sub:
            k = len(sh) - len(sub.replace("...", ""))
            sub = sub.replace("...", ell[nell - k:] if k else "")
        if len(sub) != len(sh):
            raise ShapeError(f"einsum: subscripts '{sub}' do not fit an operand of shape {sh}")
        fixed.append(sub)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = {c: "".join(fixed).count(c) for c in set("".join(fixed))}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return fixed, out


def _einsum_vjp(i: int, g: Tensor, y: Tensor, *xs: Tensor, ins: tuple, out: str) -> Tensor:
    target = ins[i]
    if len(set(target)) != len(target):
        raise NotImplementedError(f"einsum primitive: repeated index within one operand "
                                  f"('{target}'); call einsum(), which takes diagonals first")
    others = [s for j, s in enumerate(ins) if j != i]
    present = set(out).union(*others) if others else set(out)
    kept = "".join(c for c in target if c in present)
    spec = ",".join([out, *others]) + "->" + kept
    gi = einsum(spec, g, *[x for j, x in enumerate(xs) if j != i])
    if kept != target:  # letters summed only inside operand i: broadcast back over them
        shape = tuple(xs[i].shape[k] if c in present else 1 for k, c in enumerate(target))
        gi = broadcast_to(reshape(gi, shape), xs[i].shape)
    return gi


_einsum = multilinear("einsum", lambda *xs, ins, out: np.einsum(
    ",".join(ins) + "->" + out, *xs, optimize=len(xs) > 2), Each(_einsum_vjp))


def diagonal_last(x: Tensor, axis1: int, axis2: int, offset: int = 0) -> Tensor:
    """The diagonal over axes ``axis1``/``axis2`` (non-negative) moved to the last axis, as
    ``np.diagonal``: gather by index arrays, so its transpose scatters back."""
    rest = tuple(i for i in range(x.ndim) if i not in (axis1, axis2))
    x = transpose(x, rest + (axis1, axis2))
    n, m = x.shape[-2], x.shape[-1]
    k = builtins.max(0, builtins.min(n + builtins.min(offset, 0), m - builtins.max(offset, 0)))
    rows = np.arange(k) + builtins.max(-offset, 0)
    return getitem(x, (Ellipsis, rows, rows + offset))


def _einsum_sublists(args: tuple) -> tuple[str, tuple]:
    """``einsum(a, [0, 1], b, [1, 2], [0, 2])`` as a subscript string and the operands."""
    out = args[-1] if len(args) % 2 else None
    args = args[:len(args) // 2 * 2]
    ops, subs = args[0::2], args[1::2]

    def word(sub: Any) -> str:
        parts = []
        for s in sub:
            if s is Ellipsis:
                parts.append("...")
            elif isinstance(s, (int, np.integer)) and 0 <= s < len(_LETTERS):
                parts.append(_LETTERS[s])
            else:
                raise ValueError(f"einsum: sublist entries must be ints in [0, 52) or "
                                 f"Ellipsis, got {s!r}")
        return "".join(parts)

    spec = ",".join(word(s) for s in subs) + ("" if out is None else "->" + word(out))
    return spec, ops


def einsum(subscripts: Any, *operands: Any, optimize: Any = None) -> Tensor:
    """Einstein summation as ``np.einsum``: explicit or implicit output, '...', repeated
    indices within an operand (``'ii->'`` trace, ``'ii->i'`` diagonal) and the sublist
    form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``. ``optimize`` is accepted and ignored."""
    if not isinstance(subscripts, str):
        subscripts, operands = _einsum_sublists((subscripts, *operands))
    ts = [lift(t) for t in operands]
    ins, out = _parse_einsum(subscripts, [t.shape for t in ts])
    for i, sub in enumerate(ins):  # a repeated index within one operand: take the diagonal
        while len(set(sub)) != len(sub):
            c = next(c for c in sub if sub.count(c) > 1)
            p1 = sub.index(c)
            p2 = sub.index(c, p1 + 1)
            if ts[i].shape[p1] != ts[i].shape[p2]:
                raise ShapeError(f"einsum: index '{c}' of operand {i} spans axes of sizes "
                                 f"{ts[i].shape[p1]} and {ts[i].shape[p2]}")
            ts[i] = diagonal_last(ts[i], p1, p2)
            sub = sub[:p1] + sub[p1 + 1:p2] + sub[p2 + 1:] + c
        ins[i] = sub
    return _einsum(*ts, ins=tuple(ins), out=out)
