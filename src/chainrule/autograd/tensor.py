"""Tensor: an ndarray plus the record of the primitive that made it.

A tensor made by a primitive while recording keeps ``_op`` (the primitive), ``_parents``
(its input tensors) and ``_params`` (the primitive's keyword arguments). That is the whole
graph: the engine walks ``_parents`` backwards; the rule table (``ops/``) turns each
``_op`` into vector-Jacobian products. Forward mode keeps a tangent per forward level in
``_tangent``, a dict ``{level_id: tangent_tensor}`` (None when there is none); a tangent is
itself a tensor that may carry tangents of the levels outside its own (``mode.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .mode import has_visible_tangent

_default_dtype: type[np.floating] = np.float32

# Sentinel stored in ``_parents`` once backward has released a node's inputs.
FREED: tuple = ()
_clock = 0  # ticks at every in-place change; each tensor is stamped with it (versions.py)


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype given to Python floats and lists of floats (float32 or float64)."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"default dtype must be float32 or float64, got {dt}")
    _default_dtype = dt.type


def get_default_dtype() -> np.dtype:
    return np.dtype(_default_dtype)


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert user data to an ndarray, following PyTorch's dtype rules.

    Python floats (and lists of them) get the default dtype; NumPy arrays keep theirs;
    Python ints become int64; bools stay bool.
    """
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        if isinstance(data, (list, tuple)):
            _refuse_traced(data)
        arr = np.asarray(data)
        if arr.dtype.kind == "f" and not isinstance(data, np.generic):
            arr = arr.astype(_default_dtype)
        elif arr.dtype.kind in "OUSV":
            raise TypeError(f"cannot make a tensor from {type(data).__name__} data ({arr.dtype})")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr


def _refuse_traced(data: Any) -> None:
    """A container holding a tensor that is being differentiated (it requires grad or
    carries a forward tangent) cannot become a new leaf: the derivative would be dropped
    silently. Raise instead; ops lift such containers through ``stack``."""
    for e in data:
        if isinstance(e, Tensor):
            if e._rg or has_visible_tangent(e):
                raise TypeError(
                    "cannot make a constant tensor from a list/tuple holding a tensor that "
                    "is being differentiated: the derivative would be lost; combine them "
                    "with stack(...) (ops do this for you), or detach() them first")
        elif isinstance(e, (list, tuple)):
            _refuse_traced(e)


def _make(data: Any, requires_grad: bool = False) -> Tensor:
    """Fast internal constructor: ``data`` must already be an array of the right dtype."""
    t = Tensor.__new__(Tensor)
    t.data = data if type(data) is np.ndarray else np.asarray(data)
    t.grad = None
    t._rg = requires_grad
    t._op = None
    t._parents = None
    t._params = None
    t._tangent = None
    t.name = None
    t._stamp = _clock
    return t


class Tensor:
    """An n-dimensional array that remembers how it was computed.

    ``data`` is the NumPy array. When ``requires_grad`` is true, operations on the tensor
    are recorded so ``backward()`` can compute gradients. Gradients *accumulate* into
    ``.grad`` across ``backward`` calls, as in PyTorch: call ``zero_grad()`` (or the
    optimizer's) between steps.
    """

    __slots__ = ("data", "grad", "_rg", "_op", "_parents", "_params", "_tangent", "name",
                 "_stamp", "__weakref__")
    __array_priority__ = 1000
    __array_ufunc__ = None  # make NumPy defer to our reflected operators

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 name: str | None = None) -> None:
        self.data = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self._rg = False
        self._op = None
        self._parents: tuple | None = None
        self._params: dict | None = None
        self._tangent: tuple | None = None
        self.name = name
        self._stamp = _clock
        if requires_grad:
            self.requires_grad = True

    # ----------------------------------------------------------------- attributes
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if flag and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"only floating-point tensors can require gradients; this tensor is "
                f"{self.data.dtype} (convert first, e.g. tensor(x, dtype='float32'))")
        if not flag and self._op is not None:
            raise RuntimeError("requires_grad can only be switched off on a leaf tensor; "
                               "use .detach() for a non-leaf")
        self._rg = bool(flag)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self) -> bool:
        return self._op is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> Tensor:
        return _ops.transpose(self)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied). A write into it after an op saved the
        tensor for backward makes that backward raise (``versions.py``)."""
        return _versions.expose(self)

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new tensor sharing the data, cut from the graph."""
        return _make(self.data)

    def astype(self, dtype: Any) -> Tensor:
        return _ops.cast(self, dtype)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (sets ``.grad`` to None)."""
        self.grad = None

    def backward(self, gradient: Any = None, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` is the vector in the vector-Jacobian product and must have this
        tensor's shape; it may be omitted only for a one-element tensor. Unless
        ``retain_graph`` (or ``create_graph``) is true, the graph's saved tensors are
        released and a second backward through it raises an error.
        """
        from .engine import backward

        backward([self], None if gradient is None else [gradient],
                 retain_graph=retain_graph, create_graph=create_graph)

    # ----------------------------------------------------------------- conversions
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu":
            raise TypeError("only integer tensors can be used as an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.data.size} elements is "
                             "ambiguous; use .any() or .all()")
        return bool(self.data)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.data.dtype not in (np.dtype(_default_dtype), np.dtype(np.int64), np.dtype(bool)):
            extras.append(f"dtype={self.data.dtype}")
        if self._op is not None and self._rg:
            extras.append(f"op={self._op.name}")
        elif self._rg:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    __hash__ = object.__hash__

    # ----------------------------------------------------------------- operators
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __getitem__(self, key: Any) -> Tensor:
        return _ops.getitem(self, key)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.equal(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.not_equal(self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _ops.less(self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ops.less_equal(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ops.greater(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ops.greater_equal(self, other)

    # ----------------------------------------------------------------- methods
    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.mean(self, axis, keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
        return _ops.var(self, axis, keepdims, correction)

    def std(self, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
        return _ops.std(self, axis, keepdims, correction)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.min(self, axis, keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.prod(self, axis, keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.logsumexp(self, axis, keepdims)

    def norm(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.norm(self, axis, keepdims)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _ops.argmax(self, axis, keepdims)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _ops.argmin(self, axis, keepdims)

    def any(self, axis: Any = None) -> Tensor:
        return _make(np.any(self.data, axis=axis))

    def all(self, axis: Any = None) -> Tensor:
        return _make(np.all(self.data, axis=axis))

    def softmax(self, axis: int = -1) -> Tensor:
        return _ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return _ops.log_softmax(self, axis)

    def reshape(self, *shape: Any) -> Tensor:
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def view(self, *shape: Any) -> Tensor:
        return self.reshape(*shape)

    def transpose(self, *axes: Any) -> Tensor:
        if len(axes) == 2 and all(isinstance(a, int) for a in axes):
            return _ops.swapaxes(self, *axes)
        return _ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def permute(self, *axes: Any) -> Tensor:
        return _ops.transpose(self, axes[0] if len(axes) == 1 else axes)

    def swapaxes(self, a: int, b: int) -> Tensor:
        return _ops.swapaxes(self, a, b)

    def expand(self, *shape: Any) -> Tensor:
        return _ops.broadcast_to(self, shape[0] if len(shape) == 1 else shape)

    def broadcast_to(self, shape: Any) -> Tensor:
        return _ops.broadcast_to(self, shape)

    def squeeze(self, axis: Any = None) -> Tensor:
        return _ops.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return _ops.unsqueeze(self, axis)

    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> Tensor:
        return _ops.flatten(self, start_axis, end_axis)

    def flip(self, axis: Any = None) -> Tensor:
        return _ops.flip(self, axis)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return _ops.clip(self, min, max)

    clamp = clip

    def exp(self) -> Tensor:
        return _ops.exp(self)

    def sin(self) -> Tensor:
        return _ops.sin(self)

    def cos(self) -> Tensor:
        return _ops.cos(self)

    def tan(self) -> Tensor:
        return _ops.tan(self)

    def log1p(self) -> Tensor:
        return _ops.log1p(self)

    def expm1(self) -> Tensor:
        return _ops.expm1(self)

    def softplus(self) -> Tensor:
        return _ops.softplus(self)

    def sign(self) -> Tensor:
        return _ops.sign(self)

    def square(self) -> Tensor:
        return _ops.mul(self, self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def abs(self) -> Tensor:
        return _ops.abs(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def pow(self, exponent: Any) -> Tensor:
        return _ops.pow(self, exponent)

    def matmul(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Make a tensor. Python floats default to float32 (see ``set_default_dtype``).

    >>> x = tensor([1.0, 2.0], requires_grad=True)
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(x: Any) -> Tensor:
    """``x`` itself when it is a Tensor, else a tensor of it: a constant, or, for a
    (nested) list/tuple holding tensors, their differentiable ``stack``."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)):
        from .primitive import lift

        return lift(x)
    return Tensor(x)


from . import ops as _ops  # noqa: E402  (operators resolve at call time)

# ------------------------------------------------------- elementwise methods (issues 22, 23)
# ``x.name(*args, **kw)`` is ``ops.name(x, *args, **kw)``: NumPy's and PyTorch's method names.
_OP_METHODS = (
    "acos acosh arccos arccosh arcsin arcsinh arctan arctan2 arctanh asin asinh atan atan2 "
    "atanh ceil copysign cosh deg2rad div exp2 fix floor floor_divide fmax fmin fmod hypot "
    "isclose isfinite isinf isnan lerp log2 log10 logaddexp logaddexp2 nan_to_num rad2deg "
    "reciprocal remainder round rsqrt sinc sinh trunc").split()


def _op_method(name: str, reflected: bool = False) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if reflected:  # other <op> self
            return getattr(_ops, name)(args[0], self)
        return getattr(_ops, name)(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    return method


for _name in _OP_METHODS:
    if not hasattr(Tensor, _name):  # a method written out above wins
        setattr(Tensor, _name, _op_method(_name))
Tensor.__mod__, Tensor.__rmod__ = _op_method("mod"), _op_method("mod", reflected=True)
Tensor.__floordiv__ = _op_method("floor_divide")
Tensor.__rfloordiv__ = _op_method("floor_divide", reflected=True)

# --------------------------------------- indexing, scans, triangles (issue 23): PyTorch's
# methods, ``x.gather(dim, index)`` = ``ops.gather(x, dim, index)``; ``sort``, ``argsort``,
# ``scatter*`` and ``unfold(dim, size, step)`` are PyTorch's (``ops.selection``).
_TORCH_METHODS = dict.fromkeys((
    "cummax cummin cumprod cumsum gather index_select logcumsumexp masked_fill masked_select "
    "nonzero repeat_interleave scatter_reduce topk tril triu").split(), _ops)
for _name in ("unfold", "sort", "argsort", "scatter", "scatter_add"):
    _TORCH_METHODS[_name] = "selection"
for _name, _where in _TORCH_METHODS.items():  # looked up at call time (ops imports us)
    setattr(Tensor, _name, lambda self, *a, _n=_name, _w=_where, **k: getattr(
        _ops.selection if _w == "selection" else _ops,
        "unfold_axis" if _n == "unfold" else _n)(self, *a, **k))

# ------------------------------------------- array building (issue 22): NumPy's ndarray
# methods, ``x.diagonal(offset, axis1, axis2)`` = ``ops.diagonal(x, offset, axis1, axis2)``.
for _name in ("ravel", "diagonal", "trace", "dot"):
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _op_method(_name))

from . import inplace as _inplace  # noqa: E402, F401  (add_, x += y, x[i] = v, _version)
from . import versions as _versions  # noqa: E402
