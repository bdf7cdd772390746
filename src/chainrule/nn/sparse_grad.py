"""Sparse gradients of an embedding table: ``Embedding(..., sparse=True)`` (issue 20).

A lookup ``weight[idx]`` touches a few rows of a table that may have millions. With
``sparse=True`` the table's ``.grad`` is a :class:`SparseGrad` — the touched row indices
and one gradient row each — instead of a dense array of the table's size, and the
optimizers that support it (:class:`~chainrule.optim.SGD`,
:class:`~chainrule.optim.SparseAdam`) update only those rows, as PyTorch's
``nn.Embedding(sparse=True)`` does.

How, without changing the engine: the lookup first copies the touched rows,
``weight.data[unique(idx)]``, into a small leaf tensor (a :class:`_RowSink`) and gathers
from it; the backward walk ends at that leaf like at any other, with a dense gradient of
shape ``(rows touched, dim)``. Storing it in the leaf's ``.grad`` hands it, with the row
numbers, to the table's ``.grad`` as a :class:`SparseGrad` (summed with what is already
there). The weight itself is not a node of the graph, so ``cr.grad(loss, [weight])`` does
not see it and second derivatives do not flow through it (use ``sparse=False`` for those).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.tensor import Tensor, _make

_tensor = sys.modules[Tensor.__module__]  # its _clock (the name ``tensor`` is the function)

__all__ = ["SparseGrad", "embedding_sparse"]


def _coalesce(indices: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique row indices and the summed rows of each."""
    uniq, inv = np.unique(indices, return_inverse=True)
    inv = inv.reshape(-1)
    out = np.zeros((len(uniq),) + values.shape[1:], dtype=values.dtype)
    if len(uniq) == len(indices):
        out[inv] = values
    else:
        np.add.at(out, inv, values)
    return uniq, out


class SparseGrad:
    """The gradient of a table for the rows ``indices``: ``dense[indices[k]] = values[k]``.

    Always coalesced: ``indices`` are sorted and unique (int64), ``values`` has shape
    ``(len(indices),) + shape[1:]``. Adding two sums their rows; adding a dense Tensor
    gives a dense Tensor (as PyTorch's sparse + dense accumulation). It has no dense
    ``.data``: use :meth:`to_dense`, ``indices`` and ``values``.
    """

    __slots__ = ("indices", "values", "shape")
    is_sparse = True

    def __init__(self, indices: Any, values: Any, shape: tuple[int, ...]) -> None:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        vals = np.asarray(values)
        shape = tuple(int(s) for s in shape)
        if vals.shape != (len(idx),) + shape[1:]:
            raise ValueError(f"SparseGrad: values of shape {vals.shape} for {len(idx)} rows "
                             f"of a table of shape {shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= shape[0]):
            raise IndexError(f"SparseGrad: row indices must lie in [0, {shape[0]})")
        self.indices, self.values = _coalesce(idx, vals)
        self.shape = shape

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    @property
    def data(self) -> np.ndarray:
        raise TypeError("this gradient is sparse (Embedding(sparse=True)): it has no dense "
                        ".data; use .indices and .values, or .to_dense()")

    def to_dense(self) -> np.ndarray:
        """The gradient as a dense array of the table's shape."""
        out = np.zeros(self.shape, dtype=self.values.dtype)
        out[self.indices] = self.values
        return out

    def coalesce(self) -> SparseGrad:
        """Itself (a SparseGrad is always coalesced; here for PyTorch's spelling)."""
        return self

    def zero_(self) -> SparseGrad:
        """Forget every row, in place (``zero_grad(set_to_none=False)``)."""
        self.indices = self.indices[:0]
        self.values = self.values[:0]
        return self

    def __add__(self, other: Any) -> Any:
        if isinstance(other, SparseGrad):
            if other.shape != self.shape:
                raise ValueError(f"SparseGrad: shapes {self.shape} and {other.shape} differ")
            return SparseGrad(np.concatenate([self.indices, other.indices]),
                              np.concatenate([self.values, other.values]), self.shape)
        if isinstance(other, Tensor):
            if other.data.shape != self.shape:
                raise ValueError(f"SparseGrad: cannot add a dense gradient of shape "
                                 f"{other.data.shape} to one of shape {self.shape}")
            dense = other.data.copy()
            dense[self.indices] += self.values
            return _make(dense)
        return NotImplemented

    __radd__ = __add__

    def __repr__(self) -> str:
        return (f"SparseGrad(rows={self.indices.tolist()}, shape={self.shape}, "
                f"dtype={self.values.dtype})")


class _Stored:
    """What a sink's ``.grad`` reads once a gradient went through it: ``_STORED + g`` is
    ``g``, so a second backward through the same graph passes only the new part on, and
    the engine does not fill the sink with zeros afterwards."""

    __slots__ = ()

    def __add__(self, g: Any) -> Any:
        return g


_STORED = _Stored()


class _RowSink(Tensor):
    """A leaf holding copies of some rows of ``table``; the gradient the engine stores in
    its ``.grad`` goes to ``table.grad`` as a :class:`SparseGrad` of those rows."""

    __slots__ = ("_table", "_rows", "_fed")

    @property  # type: ignore[override]
    def grad(self) -> Any:
        return _STORED if self._fed else None

    @grad.setter
    def grad(self, g: Any) -> None:
        if g is None or g is _STORED:
            return
        self._fed = True
        _accumulate(self._table, self._rows, np.asarray(g.data))


def _accumulate(table: Tensor, rows: np.ndarray, values: np.ndarray) -> None:
    """``table.grad += (rows, values)``: sparse if it was None or sparse, else dense."""
    prev = table.grad
    if prev is None:
        table.grad = SparseGrad(rows, values.copy(), table.data.shape)
    elif isinstance(prev, SparseGrad):
        table.grad = prev + SparseGrad(rows, values, table.data.shape)
    else:  # a dense gradient from another use of the table (tied weights)
        dense = prev.data.copy()
        np.add.at(dense, rows, values)
        table.grad = _make(dense)


def embedding_sparse(weight: Tensor, idx: np.ndarray, padding_idx: int | None) -> Tensor:
    """``weight[idx]`` whose gradient reaches ``weight.grad`` as a :class:`SparseGrad`.

    Rows at ``padding_idx`` give zeros and get no gradient row (PyTorch leaves them out of
    the sparse gradient too). The cost of the lookup and of its backward depends on
    ``idx.size`` and the row width, not on the number of rows of ``weight``.
    """
    rows, inv = np.unique(idx, return_inverse=True)
    inv = inv.reshape(idx.shape)
    keep = rows if padding_idx is None else rows[rows != padding_idx]
    sink = Tensor.__new__(_RowSink)
    sink.data = weight.data[keep]
    sink._table, sink._rows, sink._fed = weight, keep, False
    sink._rg, sink._op, sink._parents, sink._params = True, None, None, None
    sink._tangent, sink.name, sink._stamp = None, None, _tensor._clock
    if padding_idx is None or len(keep) == len(rows):
        return sink[inv]
    # the padding row: gather from [kept rows; one zero row] so it reads zeros
    pos = np.searchsorted(keep, rows)
    pos[rows == padding_idx] = len(keep)
    zero = _make(np.zeros((1,) + weight.data.shape[1:], dtype=weight.data.dtype))
    return ops.concatenate([sink, zero], axis=0)[pos[inv]]
