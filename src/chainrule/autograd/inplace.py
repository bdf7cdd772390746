"""In-place tensor methods (PyTorch's ``add_``, ``x -= y``, ``x[i] = v``, ...).

An in-place change is never recorded for gradients. So, as in PyTorch, it is allowed when
no gradient would be lost -- under ``no_grad()`` (an optimizer step, ``w -= lr * w.grad``:
``w`` stays the same leaf tensor and keeps requiring grad), or when neither side requires
grad -- and refused otherwise with an error saying what to do. Every change bumps the
version of the tensor's memory (``versions.mark_modified``), so a graph that saved the old
values refuses to run ``backward``.

Augmented assignment (``x += y``) is in place under the same rule; where the change would
have to be recorded (a non-leaf that requires grad, while recording) it falls back to the
out-of-place op and rebinds the name, as chainrule always did. On a leaf that requires grad
while recording it raises, as PyTorch does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ops
from .mode import has_visible_tangent, state
from .tensor import Tensor
from .versions import mark_modified, version


def _traced(x: Any) -> bool:
    return isinstance(x, Tensor) and (x._rg or (bool(state.fw_level) and has_visible_tangent(x)))


def _recorded(self: Tensor, other: Any) -> bool:
    """Whether the change would have to be recorded for a derivative."""
    if state.fw_level and (_traced(self) or _traced(other)):
        return True
    return state.grad_enabled and (self._rg or _traced(other))


def _refuse(self: Tensor, name: str) -> None:
    if self._rg and self._op is None:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad cannot be changed in place while "
            f"gradients are recorded (the change would be lost); update it under "
            f"`with no_grad():` as optimizers do, or use the out-of-place op")
    raise RuntimeError(
        f"{name}: in-place changes are not recorded for gradients, and this one involves a "
        f"tensor that requires grad (or carries a forward tangent); use the out-of-place op "
        f"(y = x + ...), or make the change under `with no_grad():`")


def _array(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _ufunc_(name: str, ufunc: Any) -> Any:
    def method(self: Tensor, other: Any, *, alpha: Any = None) -> Tensor:
        if _recorded(self, other):
            _refuse(self, name)
        other = _array(other)
        if alpha is not None:
            other = np.multiply(other, alpha)
        try:
            ufunc(self.data, other, out=self.data, casting="same_kind")
        except ValueError as e:  # broadcasting beyond self's shape
            raise RuntimeError(f"{name}: the result of shape "
                               f"{np.broadcast_shapes(np.shape(self.data), np.shape(other))} "
                               f"does not fit in place into shape {self.data.shape}") from e
        mark_modified(self, name)
        return self

    method.__name__ = method.__qualname__ = name
    return method


def _augmented(name: str, out_of_place: str) -> Any:
    in_place = _ufunc_(name, _UFUNCS[name])

    def method(self: Tensor, other: Any) -> Tensor:
        if _recorded(self, other) and not (self._rg and self._op is None
                                            and state.grad_enabled):
            # recorded: a new node (the op looked up now: ops imports this module's importer)
            return getattr(ops, out_of_place)(self, other)
        return in_place(self, other)

    return method


_UFUNCS = {"add_": np.add, "sub_": np.subtract, "mul_": np.multiply, "div_": np.true_divide,
           "pow_": np.power}


def _fill(self: Tensor, value: Any, name: str) -> Tensor:
    if _recorded(self, value):
        _refuse(self, name)
    np.copyto(self.data, _array(value), casting="same_kind")
    mark_modified(self, name)
    return self


def zero_(self: Tensor) -> Tensor:
    return _fill(self, 0, "zero_")


def fill_(self: Tensor, value: Any) -> Tensor:
    return _fill(self, value, "fill_")


def copy_(self: Tensor, src: Any) -> Tensor:
    """Copy ``src``'s values into this tensor (broadcast to its shape, cast to its dtype)."""
    if _recorded(self, src):
        _refuse(self, "copy_")
    np.copyto(self.data, _array(src), casting="unsafe")
    mark_modified(self, "copy_")
    return self


def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    if _recorded(self, None):
        _refuse(self, "clamp_")
    np.clip(self.data, min, max, out=self.data)
    mark_modified(self, "clamp_")
    return self


def setitem(self: Tensor, key: Any, value: Any) -> None:
    """``x[key] = value`` in place (NumPy's indexing), under the in-place rule."""
    if _recorded(self, value):
        _refuse(self, "x[...] = value")
    if isinstance(key, Tensor):
        key = key.data
    elif isinstance(key, tuple):
        key = tuple(k.data if isinstance(k, Tensor) else k for k in key)
    self.data[key] = _array(value)
    mark_modified(self, "x[...] = value")


for _name, _ufunc in _UFUNCS.items():
    setattr(Tensor, _name, _ufunc_(_name, _ufunc))
Tensor.__iadd__ = _augmented("add_", "add")
Tensor.__isub__ = _augmented("sub_", "sub")
Tensor.__imul__ = _augmented("mul_", "mul")
Tensor.__itruediv__ = _augmented("div_", "div")
Tensor.__ipow__ = _augmented("pow_", "pow")
Tensor.zero_, Tensor.fill_, Tensor.copy_ = zero_, fill_, copy_
Tensor.clamp_ = Tensor.clip_ = clamp_
Tensor.__setitem__ = setitem
Tensor._version = property(version, doc="How many in-place changes this tensor's memory "
                           "has had (PyTorch's ``_version``; views share it).")
