"""NumPy's names and signatures over chainrule tensors: ``import chainrule.numpy as cnp``.

Code written against NumPy differentiates unchanged once ``np`` is replaced by ``cnp``
(HIPS autograd's ``autograd.numpy`` idea)::

    import chainrule as cr
    import chainrule.numpy as cnp

    def loss(w, x, y):                       # written for NumPy
        p = 1 / (1 + cnp.exp(-cnp.dot(x, w)))
        return -cnp.mean(y * cnp.log(p) + (1 - y) * cnp.log(1 - p))

    cr.grad(loss)(w, x, y)

Every function takes tensors, NumPy arrays, numbers and (nested) lists of them; a list
holding tensors is stacked, so it differentiates (``cnp.array([x, 2 * x])``). Results are
chainrule tensors. Where NumPy and chainrule differ, NumPy's meaning wins: ``var``/``std``
default to ``ddof=0``, ``concatenate(..., axis=None)`` flattens, ``cumsum`` without an axis
flattens. Creation functions give floating tensors of chainrule's default dtype
(``cr.set_default_dtype``) unless ``dtype`` is passed. Out-parameters (``out=``) and
non-constant ``np.pad`` modes are not supported. ``cnp.linalg`` is ``chainrule.linalg``;
``cnp.random`` is NumPy's own (it makes constants).

Elementwise functions added to ``chainrule.autograd.ops`` under NumPy's names are picked
up here by name; ``MISSING`` lists the NumPy names this module does not provide yet.
"""

from __future__ import annotations

import builtins
import importlib
from typing import Any

import numpy as np  # the real NumPy: absolute import, not this package

from ..autograd import ops as _ops
from ..autograd.tensor import Tensor, _make, get_default_dtype
from ._core import _build, _has_tensor, _t

# --------------------------------------------------------------------------- constants, dtypes

pi, e, inf, nan, newaxis, euler_gamma = np.pi, np.e, np.inf, np.nan, np.newaxis, np.euler_gamma
float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint8, uint16, uint32, uint64 = np.uint8, np.uint16, np.uint32, np.uint64
bool_, complex64, complex128, intp = np.bool_, np.complex64, np.complex128, np.intp
dtype, finfo, iinfo, ndarray, random = np.dtype, np.finfo, np.iinfo, np.ndarray, np.random
result_type, promote_types, can_cast = np.result_type, np.promote_types, np.can_cast
integer, floating, number = np.integer, np.floating, np.number
isscalar = np.isscalar


def __getattr__(name: str) -> Any:
    if name == "linalg":  # chainrule.linalg, imported on first use
        try:
            return importlib.import_module("chainrule.linalg")
        except ModuleNotFoundError as e:
            if e.name != "chainrule.linalg":
                raise
            raise AttributeError("chainrule.numpy.linalg: chainrule.linalg is not "
                                 "available in this version") from None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- creation


def array(object: Any, dtype: Any = None, copy: Any = True, ndmin: int = 0) -> Tensor:  # noqa: A002
    """A tensor from array-like data; tensors inside lists keep their gradient."""
    if isinstance(object, Tensor):  # a copy that keeps the derivative
        t = _ops.alias(object) if copy else object
    else:
        t = _build(object) if _has_tensor(object) else Tensor(object)
    if dtype is not None:
        t = _ops.cast(t, dtype)
    if t.ndim < ndmin:
        t = _ops.reshape(t, (1,) * (ndmin - t.ndim) + t.shape)
    return t


def asarray(a: Any, dtype: Any = None) -> Tensor:
    """``a`` itself when it is a tensor (cast to ``dtype`` if given), else ``array(a)``."""
    if isinstance(a, Tensor):
        return a if dtype is None else _ops.cast(a, dtype)
    return array(a, dtype=dtype)


asanyarray = asarray


def _float(dtype: Any) -> Any:
    return get_default_dtype() if dtype is None else np.dtype(dtype)


def zeros(shape: Any, dtype: Any = None) -> Tensor:
    return _make(np.zeros(shape, dtype=_float(dtype)))


def ones(shape: Any, dtype: Any = None) -> Tensor:
    return _make(np.ones(shape, dtype=_float(dtype)))


empty = zeros


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    if dtype is None and isinstance(fill_value, (int, np.integer, bool, np.bool_)):
        dtype = np.asarray(fill_value).dtype
    return _make(np.full(shape, _ops.lift(fill_value).data, dtype=_float(dtype)))


def _like_dtype(a: Any, dtype: Any) -> Any:
    return np.dtype(dtype) if dtype is not None else np.asarray(_ops.lift(_t(a)).data).dtype


def zeros_like(a: Any, dtype: Any = None) -> Tensor:
    return _make(np.zeros(np.shape(_ops.lift(_t(a)).data), dtype=_like_dtype(a, dtype)))


def ones_like(a: Any, dtype: Any = None) -> Tensor:
    return _make(np.ones(np.shape(_ops.lift(_t(a)).data), dtype=_like_dtype(a, dtype)))


empty_like = zeros_like


def full_like(a: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    return _make(np.full(np.shape(_ops.lift(_t(a)).data), _ops.lift(fill_value).data,
                         dtype=_like_dtype(a, dtype)))


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Tensor:  # noqa: N803
    return _make(np.eye(N, M, k, dtype=_float(dtype)))


def identity(n: int, dtype: Any = None) -> Tensor:
    return eye(n, dtype=dtype)


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> Tensor:
    """``np.arange``; a float range gets the default dtype, an int range stays int64."""
    arr = np.arange(start, stop, step) if step is not None else (
        np.arange(start) if stop is None else np.arange(start, stop))
    if dtype is None and arr.dtype.kind == "f":
        dtype = get_default_dtype()
    return _make(arr if dtype is None else arr.astype(dtype))


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0) -> Any:
    """``np.linspace``; differentiable in ``start`` and ``stop`` when they are tensors."""
    if isinstance(start, Tensor) or isinstance(stop, Tensor):
        s, t = _ops.lift(start), _ops.lift(stop)
        frac = np.linspace(0.0, 1.0, num, endpoint=endpoint).astype(
            _float(dtype if dtype is not None else (s.dtype if s.dtype.kind == "f" else None)))
        frac = frac.reshape((num,) + (1,) * builtins.max(s.ndim, t.ndim))
        out = _ops.moveaxis(s * (1 - frac) + t * frac, 0, axis)
        div = (num - 1) if endpoint else num
        return (out, (t - s) / div) if retstep else out
    out = np.linspace(start, stop, num, endpoint=endpoint, retstep=retstep, axis=axis)
    arr, step = out if retstep else (out, None)
    arr = arr.astype(_float(dtype)) if dtype is not None or arr.dtype.kind == "f" else arr
    return (_make(arr), step) if retstep else _make(arr)


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: float = 10.0,
             dtype: Any = None, axis: int = 0) -> Tensor:
    return _ops.pow(base, linspace(start, stop, num, endpoint, dtype=dtype, axis=axis))


def copy(a: Any) -> Tensor:
    """A copy that differentiates like its input (the values are not shared)."""
    return _ops.alias(asarray(a))


# --------------------------------------------------------------------------- queries


def shape(a: Any) -> tuple:
    return np.shape(a.data if isinstance(a, Tensor) else a)


def ndim(a: Any) -> int:
    return len(shape(a))


def size(a: Any, axis: int | None = None) -> int:
    s = shape(a)
    return int(np.prod(s)) if axis is None else s[axis]


def _bool_op(fn: Any) -> Any:
    def op(*args: Any, **kw: Any) -> Tensor:
        return _make(fn(*[_ops.lift(_t(a)).data for a in args], **kw))

    op.__name__ = fn.__name__
    op.__doc__ = f"``np.{fn.__name__}`` on the values (no derivative)."
    return op


isfinite, isnan, isinf = _bool_op(np.isfinite), _bool_op(np.isnan), _bool_op(np.isinf)
logical_and, logical_or = _bool_op(np.logical_and), _bool_op(np.logical_or)
logical_not, logical_xor = _bool_op(np.logical_not), _bool_op(np.logical_xor)
isclose = _bool_op(np.isclose)


def nonzero(a: Any) -> tuple:
    """``np.nonzero``: index arrays (NumPy arrays, no derivative)."""
    return np.nonzero(_ops.lift(_t(a)).data)


def argwhere(a: Any) -> np.ndarray:
    return np.argwhere(_ops.lift(_t(a)).data)


floor_divide = _bool_op(np.floor_divide)


def allclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    return bool(np.allclose(_ops.lift(_t(a)).data, _ops.lift(_t(b)).data, rtol, atol))


def all(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _make(np.all(_ops.lift(_t(a)).data, axis=axis, keepdims=keepdims))


def any(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _make(np.any(_ops.lift(_t(a)).data, axis=axis, keepdims=keepdims))


from . import _functions  # noqa: E402
from ._functions import *  # noqa: E402, F403
from ._functions import MISSING  # noqa: E402, F401

__all__ = sorted(set(_functions.__all__) | {
    "all", "allclose", "any", "arange", "argwhere", "array", "asanyarray", "asarray", "copy",
    "e", "empty", "empty_like", "euler_gamma", "eye", "floor_divide", "full", "full_like",
    "identity", "inf", "isclose", "isfinite", "isinf", "isnan", "linspace", "logical_and",
    "logical_not", "logical_or", "logical_xor", "logspace", "nan", "ndim", "newaxis",
    "nonzero", "ones", "ones_like", "pi", "shape", "size", "zeros", "zeros_like"})
