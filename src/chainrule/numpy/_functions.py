"""The differentiable functions of ``chainrule.numpy``: NumPy's names and signatures over
the ops of ``chainrule.autograd.ops``."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..autograd import ops as _ops
from ..autograd.tensor import Tensor
from ..errors import ShapeError
from ._core import _t


def _unsupported(op: str, **given: Any) -> None:
    for name, value in given.items():
        if value is not None:
            raise NotImplementedError(f"{op}: the argument {name}= is not supported")


def _lists(fn: Any, name: str | None = None) -> Any:
    """``fn`` with list arguments holding tensors stacked first (so they differentiate)."""
    def op(*args: Any, **kw: Any) -> Any:
        return fn(*[_t(a) for a in args], **kw)

    op.__name__ = name or getattr(fn, "__name__", "op")
    op.__doc__ = getattr(fn, "__doc__", None)
    return op


# --------------------------------------------------------------------------- elementwise

_SAME = ["exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh",
         "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "arctan2", "sign",
         "maximum", "minimum", "equal", "not_equal", "less", "less_equal", "greater",
         "greater_equal", "add", "abs", "matmul",
         # NumPy names added to the ops by the elementwise work of issue 22 (if present)
         "hypot", "log2", "log10", "exp2", "logaddexp", "logaddexp2", "reciprocal", "sinc",
         "deg2rad", "rad2deg", "radians", "degrees", "floor", "ceil", "round", "around",
         "rint", "trunc", "fix", "mod", "remainder", "fmod", "fmax", "fmin", "nan_to_num",
         "cbrt", "sort", "partition", "argsort", "take_along_axis", "heaviside", "copysign"]
_RENAMED = {"subtract": "sub", "multiply": "mul", "divide": "div", "true_divide": "div",
            "power": "pow", "float_power": "pow", "negative": "neg", "absolute": "abs",
            "fabs": "abs"}
_DONE = []
for _name in _SAME + list(_RENAMED):
    _fn = getattr(_ops, _RENAMED.get(_name, _name), None)
    if _fn is not None:
        globals()[_name] = _lists(_fn, _name)
        _DONE.append(_name)


def square(x: Any) -> Tensor:
    x = _ops.lift(_t(x))
    return x * x


def positive(x: Any) -> Tensor:
    return _ops.lift(_t(x))


def clip(a: Any, a_min: Any = None, a_max: Any = None) -> Tensor:
    """``np.clip``: the gradient passes where ``a_min <= a <= a_max``."""
    return _ops.clip(_t(a), a_min, a_max)


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """``np.where(condition, x, y)``; with the condition alone, ``np.nonzero``."""
    if x is None and y is None:
        return np.nonzero(_ops.lift(_t(condition)).data)
    return _ops.where(_t(condition), _t(x), _t(y))


# --------------------------------------------------------------------------- reductions


def _reduce(fn: Any, name: str) -> Any:
    def reduce(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
               keepdims: bool = False) -> Tensor:
        _unsupported(name, out=out)
        x = _ops.lift(_t(a))
        if dtype is not None:
            x = _ops.cast(x, dtype)
        return fn(x, axis=axis, keepdims=keepdims)

    reduce.__name__ = name
    reduce.__doc__ = f"``np.{name}(a, axis=None, dtype=None, keepdims=False)``."
    return reduce


sum = _reduce(_ops.sum, "sum")  # noqa: A001
mean = _reduce(_ops.mean, "mean")
prod = _reduce(_ops.prod, "prod")


def max(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """``np.max``; tied maxima share the gradient equally."""
    _unsupported("max", out=out)
    return _ops.max(_t(a), axis=axis, keepdims=keepdims)


def min(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """``np.min``; tied minima share the gradient equally."""
    _unsupported("min", out=out)
    return _ops.min(_t(a), axis=axis, keepdims=keepdims)


amax, amin = max, min


def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False) -> Tensor:
    """``np.var``: divides by N - ddof (NumPy's default ddof=0)."""
    _unsupported("var", out=out)
    x = _ops.lift(_t(a))
    return _ops.var(x if dtype is None else _ops.cast(x, dtype), axis, keepdims, ddof)


def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False) -> Tensor:
    """``np.std`` (ddof=0 by default); its gradient where std = 0 is 0."""
    _unsupported("std", out=out)
    x = _ops.lift(_t(a))
    return _ops.std(x if dtype is None else _ops.cast(x, dtype), axis, keepdims, ddof)


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False,
            keepdims: bool = False) -> Any:
    """``np.average``: the mean, or the weighted mean (differentiable in the weights too)."""
    x = _ops.lift(_t(a))
    if weights is None:
        avg = _ops.mean(x, axis=axis, keepdims=keepdims)
        count = x.size // builtins.max(avg.size, 1)
        return (avg, _ops.full_like(avg, float(count))) if returned else avg
    w = _ops.lift(_t(weights), x)
    if w.shape != x.shape:
        if axis is None or w.ndim != 1:
            raise ShapeError(f"average: weights of shape {w.shape} differ from a's shape "
                             f"{x.shape}; 1-D weights need an axis")
        ax = int(axis) % x.ndim
        w = _ops.reshape(w, tuple(s if i == ax else 1 for i, s in enumerate(x.shape)))
    scl = _ops.sum(_ops.broadcast_to(w, x.shape), axis=axis, keepdims=keepdims)
    avg = _ops.sum(x * w, axis=axis, keepdims=keepdims) / scl
    return (avg, scl) if returned else avg


def argmax(a: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _ops.argmax(_t(a), axis=axis, keepdims=keepdims)


def argmin(a: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _ops.argmin(_t(a), axis=axis, keepdims=keepdims)


def _scan(name: str) -> Any:
    fn = getattr(_ops, name)

    def scan(a: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
        x = _ops.lift(_t(a))
        if dtype is not None:
            x = _ops.cast(x, dtype)
        if axis is None:
            x, axis = _ops.ravel(x), 0
        return fn(x, axis)

    scan.__name__ = name
    scan.__doc__ = f"``np.{name}``: along ``axis``, over the flattened input when None."
    return scan


for _name in ("cumsum", "cumprod"):
    if hasattr(_ops, _name):
        globals()[_name] = _scan(_name)
        _DONE.append(_name)


# --------------------------------------------------------------------------- shape


def reshape(a: Any, newshape: Any = None, order: str = "C", shape: Any = None) -> Tensor:
    """``np.reshape`` (C order only; ``shape=`` as NumPy 2 spells it)."""
    if order != "C":
        raise NotImplementedError(f"reshape: only order='C' is supported, got {order!r}")
    return _ops.reshape(_t(a), newshape if shape is None else shape)


def transpose(a: Any, axes: Any = None) -> Tensor:
    return _ops.transpose(_t(a), axes)


def swapaxes(a: Any, axis1: int, axis2: int) -> Tensor:
    return _ops.swapaxes(_t(a), axis1, axis2)


def expand_dims(a: Any, axis: Any) -> Tensor:
    """Insert axes of size 1 at the positions ``axis`` of the result (``np.expand_dims``)."""
    x = _ops.lift(_t(a))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    nd = x.ndim + len(axes)
    pos = sorted(int(p) % nd for p in axes)
    if len(set(pos)) != len(pos) or builtins.any(not -nd <= int(p) < nd for p in axes):
        raise ShapeError(f"expand_dims: axis {axis} is invalid for {x.ndim} dimensions")
    it = iter(x.shape)
    return _ops.reshape(x, tuple(1 if i in pos else next(it) for i in range(nd)))


def squeeze(a: Any, axis: Any = None) -> Tensor:
    """``np.squeeze``: unlike PyTorch's, an axis whose size is not 1 is an error."""
    x = _t(a)
    for ax in (() if axis is None else np.atleast_1d(axis)):
        if x.shape[int(ax)] != 1:
            raise ValueError(f"squeeze: cannot select an axis to squeeze out which has "
                             f"size not equal to one (axis {int(ax)}, shape {x.shape})")
    return _ops.squeeze(x, axis)


def concatenate(arrays: Any, axis: int | None = 0) -> Tensor:
    """``np.concatenate``; ``axis=None`` flattens the inputs first."""
    arrays = [_t(x) for x in arrays]
    if axis is None:
        return _ops.concatenate([_ops.ravel(x) for x in arrays], axis=0)
    return _ops.concatenate(arrays, axis=axis)


def stack(arrays: Any, axis: int = 0) -> Tensor:
    return _ops.stack([_t(x) for x in arrays], axis=axis)


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    return _ops.split(_t(ary), indices_or_sections, axis)


def flip(m: Any, axis: Any = None) -> Tensor:
    return _ops.flip(_t(m), axis)


def fliplr(m: Any) -> Tensor:
    return _ops.flip(_t(m), 1)


def flipud(m: Any) -> Tensor:
    return _ops.flip(_t(m), 0)


def pad(array: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Tensor:
    """``np.pad`` with ``mode='constant'`` and one constant value."""
    if mode != "constant" or np.ndim(constant_values) != 0:
        raise NotImplementedError(f"pad: only mode='constant' with one constant value is "
                                  f"supported, got mode={mode!r}")
    return _ops.pad(_t(array), pad_width, float(constant_values))


def broadcast_to(array: Any, shape: Any) -> Tensor:
    return _ops.broadcast_to(_t(array), shape)


def broadcast_arrays(*args: Any) -> list[Tensor]:
    ts = [_ops.lift(_t(a)) for a in args]
    shape = np.broadcast_shapes(*[t.shape for t in ts])
    return [_ops.broadcast_to(t, shape) for t in ts]


def tril(m: Any, k: int = 0) -> Tensor:
    return _ops.tril(_t(m), k)


def triu(m: Any, k: int = 0) -> Tensor:
    return _ops.triu(_t(m), k)


def take(a: Any, indices: Any, axis: int | None = None) -> Tensor:
    """``np.take``: elements at ``indices`` (of the flattened input when ``axis`` is None)."""
    x = _ops.lift(_t(a))
    if axis is None:
        x, axis = _ops.ravel(x), 0
    axis = int(axis) % builtins.max(x.ndim, 1)
    return _ops.getitem(x, (slice(None),) * axis + (np.asarray(indices),))


def vdot(a: Any, b: Any) -> Tensor:
    return _ops.sum(_ops.ravel(_t(a)) * _ops.ravel(_t(b)))


def rot90(m: Any, k: int = 1, axes: Any = (0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes`` (``np.rot90``)."""
    x = _ops.lift(_t(m))
    a, b = (int(v) % builtins.max(x.ndim, 1) for v in axes)
    if x.ndim < 2 or a == b:
        raise ShapeError(f"rot90: needs two different axes of a tensor with at least 2 "
                         f"dimensions, got axes {axes} for shape {x.shape}")
    k %= 4
    if k == 2:
        return _ops.flip(x, (a, b))
    if k == 0:
        return x
    if k == 1:
        return _ops.swapaxes(_ops.flip(x, b), a, b)
    return _ops.flip(_ops.swapaxes(x, a, b), b)


def make_diagonal(D: Any, offset: int = 0, axis1: int = -1, axis2: int = -2) -> Tensor:
    """HIPS autograd's ``make_diagonal``: the last axis of ``D`` spread over a diagonal, placed
    at ``axis1``/``axis2`` of the result (the inverse of ``diagonal``)."""
    x = _ops.lift(_t(D))
    if offset != 0:
        raise NotImplementedError("make_diagonal: only offset=0 is supported")
    n = x.shape[-1]
    out = _ops.unsqueeze(x, -1) * np.eye(n, dtype=x.dtype)
    nd = out.ndim
    a1, a2 = int(axis1) % nd, int(axis2) % nd
    if a1 == a2:
        raise ValueError(f"make_diagonal: axis1 and axis2 must differ, got {axis1}, {axis2}")
    return _ops.moveaxis(out, [-2, -1], [a1, a2])


def msort(a: Any) -> Tensor:
    """Sort along the first axis (``np.msort``)."""
    return _ops.sort(_t(a), 0)


def nansum(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum treating NaNs as zero (their gradient is zero)."""
    x = _ops.lift(_t(a))
    return _ops.sum(_ops.where(np.isnan(x.data), 0.0, x), axis=axis, keepdims=keepdims)


def nanmean(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over the non-NaN elements."""
    x = _ops.lift(_t(a))
    count = np.sum(~np.isnan(x.data), axis=axis, keepdims=keepdims)
    return nansum(x, axis, keepdims) / count.astype(x.dtype)


def select(condlist: Any, choicelist: Any, default: Any = 0) -> Tensor:
    """``np.select``: the first choice whose condition holds, else ``default``."""
    if len(condlist) != len(choicelist):
        raise ValueError("select: condlist and choicelist must have the same length")
    out = _ops.lift(_t(default))
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = _ops.where(_ops.lift(_t(cond)).data.astype(bool), _t(choice), out)
    return out


def nanvar(a: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Variance over the non-NaN elements (NaNs get a zero gradient)."""
    x = _ops.lift(_t(a))
    ok = ~np.isnan(x.data)
    count = np.sum(ok, axis=axis, keepdims=True).astype(x.dtype)
    d = _ops.where(ok, x - nanmean(x, axis, keepdims=True), 0.0)
    out = _ops.sum(d * d, axis=axis, keepdims=True) / (count - ddof)
    return out if keepdims else _ops.squeeze(out, axis)


def nanstd(a: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    return _ops.sqrt(nanvar(a, axis, ddof, keepdims))


def ptp(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Peak to peak: max - min."""
    x = _ops.lift(_t(a))
    return _ops.max(x, axis=axis, keepdims=keepdims) - _ops.min(x, axis=axis, keepdims=keepdims)


def median(a: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """The median along one axis (the flattened input when None): the middle of the sorted
    values, or the mean of the two middle ones."""
    x = _ops.lift(_t(a))
    flat = axis is None
    if flat:
        x, axis = _ops.ravel(x), 0
    axis = int(axis) % builtins.max(x.ndim, 1)
    s = _ops.sort(x, axis)
    n = x.shape[axis]
    if n == 0:
        raise ValueError("median: empty axis")
    lead = (slice(None),) * axis
    mid = _ops.mean(_ops.getitem(s, lead + (slice((n - 1) // 2, n // 2 + 1),)), axis=axis,
                    keepdims=True)
    if keepdims:
        return _ops.reshape(mid, (1,) * _ops.lift(_t(a)).ndim) if flat else mid
    return _ops.squeeze(mid, axis)


def angle(z: Any) -> Tensor:
    """The angle of a real number: 0 where z >= 0, pi where z < 0 (derivative 0)."""
    x = _ops.lift(_t(z)).data
    return _ops.lift(np.angle(x).astype(np.result_type(x, np.float16)))


def real(val: Any) -> Tensor:
    """The real part: the tensor itself (chainrule tensors are real)."""
    return _ops.lift(_t(val))


conj = conjugate = real_if_close = real


def imag(val: Any) -> Tensor:
    """The imaginary part of a real tensor: zeros."""
    x = _ops.lift(_t(val))
    return x * 0


if not hasattr(_ops, "cbrt"):
    def cbrt(x: Any) -> Tensor:
        """The real cube root, ``sign(x) |x|**(1/3)``."""
        x = _ops.lift(_t(x))
        return _ops.sign(x) * _ops.abs(x) ** (1.0 / 3.0)

    _DONE.append("cbrt")
if "round" in _DONE:
    around = rint = globals()["round"]
    _DONE += ["around", "rint"]
if not hasattr(_ops, "heaviside"):
    def heaviside(x1: Any, x2: Any) -> Tensor:
        """0 where x1 < 0, ``x2`` where x1 == 0, 1 where x1 > 0 (differentiable in x2)."""
        x = _ops.lift(_t(x1)).data
        return _ops.where(x == 0, _t(x2), np.heaviside(x, 0.0))

    _DONE.append("heaviside")


def _sequence(fn: Any, name: str) -> Any:
    """``fn(tup)`` with each element of ``tup`` stacked if it is a list holding tensors."""
    def op(tup: Any) -> Tensor:
        return fn([_t(x) for x in tup] if isinstance(tup, (list, tuple)) else tup)

    op.__name__, op.__doc__ = name, fn.__doc__
    return op


_STACKS = ["column_stack", "dstack", "hstack", "row_stack", "vstack"]
_BUILDING = ["append", "array_split", "atleast_1d", "atleast_2d", "atleast_3d", "cross", "diag",
             "diagonal", "diff", "dot", "dsplit", "einsum", "hsplit", "inner", "kron",
             "moveaxis", "outer", "ravel", "repeat", "roll", "rollaxis", "tensordot", "tile",
             "trace", "vsplit", *_STACKS]
for _name in _BUILDING:
    _wrap = _sequence if _name in _STACKS else _lists
    globals()[_name] = _wrap(getattr(_ops, _name), _name)
r_, c_ = _ops.r_, _ops.c_

# NumPy names this module aims for and does not provide (yet): see the module docstring.
MISSING = sorted(n for n in _SAME if n not in _DONE)
__all__ = sorted(set(_DONE) | set(_BUILDING) | {
    "amax", "amin", "argmax", "argmin", "average", "broadcast_arrays", "broadcast_to", "c_",
    "angle", "conj", "conjugate", "imag", "make_diagonal", "median", "msort", "nanmean",
    "nanstd", "nansum", "nanvar", "ptp", "real", "real_if_close", "rot90", "select",
    "clip", "concatenate", "expand_dims", "flip", "fliplr", "flipud", "max", "mean", "min",
    "pad", "positive", "prod", "r_", "reshape", "split", "square", "squeeze", "stack", "std",
    "sum", "swapaxes", "take", "transpose", "tril", "triu", "var", "vdot", "where"})
