"""Updates from sparse gradients (``Embedding(sparse=True)``, issue 20): SGD, Adagrad, SparseAdam.

A :class:`~chainrule.nn.sparse_grad.SparseGrad` names the rows of a table that the last
batches used and holds one gradient row each. :meth:`Optimizer.step` hands it to the
optimizer's ``_update_sparse``; optimizers without one raise (PyTorch's rule: Adam and
the other dense optimizers do not take sparse gradients).

* **SGD without momentum** updates the rows in the gradient, nothing else.
* **SGD with momentum** gives what PyTorch gives: its momentum buffer is sparse and
  covers every row that has ever had a gradient, and every step decays and applies it on
  those rows. Here the buffer is a dense array (zeros elsewhere, so a checkpoint has the
  dense optimizers' layout) and the optimizer remembers which rows it holds; a step costs
  the number of rows touched so far, not the table's size. ``weight_decay`` is refused
  (PyTorch cannot add the dense weights to a sparse gradient either).
* **Adagrad** updates its accumulator and the parameter on the gradient's rows (PyTorch's
  sparse Adagrad); ``weight_decay`` is refused.
* **SparseAdam** (``torch.optim.SparseAdam``): Adam's moments and update on the rows in
  the gradient only ("lazy" Adam); rows not in the batch keep their moments and values.
  The bias correction uses the parameter's step count, as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..nn.sparse_grad import SparseGrad
from .optimizer import Optimizer, ParamsLike, check_betas, check_nonneg, count_step

__all__ = ["SparseAdam", "adagrad_sparse_update", "sgd_sparse_update"]


def _rows_held(cache: dict[int, tuple[np.ndarray, np.ndarray]], buf: np.ndarray) -> np.ndarray:
    """Rows of the momentum buffer ``buf`` that may be nonzero (cached; else looked up)."""
    entry = cache.get(id(buf))
    if entry is not None and entry[0] is buf:
        return entry[1]
    flat = buf.reshape(len(buf), -1)
    return np.flatnonzero(np.any(flat != 0, axis=1))  # after a dense step or a load


def sgd_sparse_update(cache: dict[int, tuple[np.ndarray, np.ndarray]], p: np.ndarray,
                      grad: SparseGrad, state: dict[str, Any], group: dict[str, Any]) -> None:
    """One SGD step (PyTorch's rules) from a sparse gradient; ``cache`` maps a momentum
    buffer's id to the rows it holds."""
    if float(group["weight_decay"]) != 0:
        raise RuntimeError("SGD: weight_decay is not supported with a sparse gradient "
                           "(Embedding(sparse=True)), as in PyTorch; put the embedding in a "
                           "parameter group with weight_decay=0")
    lr, momentum = float(group["lr"]), float(group["momentum"])
    rows, vals = grad.indices, grad.values
    if momentum == 0:
        p[rows] -= vals * lr
        return
    buf = state.get("momentum_buffer")
    if buf is None:
        buf = state["momentum_buffer"] = np.zeros_like(p)
        buf[rows] = vals
        held = rows
    else:
        held = _rows_held(cache, buf)
        buf[held] *= momentum
        buf[rows] += vals * (1.0 - float(group["dampening"]))
        held = np.union1d(held, rows)
    cache[id(buf)] = (buf, held)
    d = buf[held]
    if group["nesterov"]:
        g = np.zeros_like(d)
        g[np.searchsorted(held, rows)] = vals
        d *= momentum
        d += g
    p[held] -= d * lr


def adagrad_sparse_update(p: np.ndarray, grad: SparseGrad, state: dict[str, Any],
                          group: dict[str, Any]) -> None:
    """One Adagrad step (PyTorch's rules) from a sparse gradient: the accumulator and the
    parameter change on the gradient's rows only; the step count is the parameter's."""
    if float(group["weight_decay"]) != 0:
        raise RuntimeError("Adagrad: weight_decay is not supported with a sparse gradient "
                           "(Embedding(sparse=True)), as in PyTorch")
    if not state:
        state["step"] = 0
        state["sum"] = np.full_like(p, float(group["initial_accumulator_value"]))
    state["step"] += 1
    clr = float(group["lr"]) / (1.0 + (state["step"] - 1) * float(group["lr_decay"]))
    rows, g = grad.indices, grad.values
    s = state["sum"]
    s[rows] += g * g
    std = np.sqrt(s[rows])
    std += float(group["eps"])
    p[rows] -= g / std * clr


class SparseAdam(Optimizer):
    r"""Adam for sparse gradients (PyTorch's ``torch.optim.SparseAdam`` algorithm).

    For the rows ``r`` in the gradient only, with the parameter's step count ``t``::

        m[r] <- m[r] + (1 - beta1) * (g - m[r])
        v[r] <- v[r] + (1 - beta2) * (g**2 - v[r])
        p[r] <- p[r] - lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m[r] / (sqrt(v[r]) + eps)

    Other rows are left alone (their moments are not decayed). Dense gradients raise, as
    in PyTorch (use :class:`~chainrule.optim.Adam` for those parameters).
    """

    def __init__(self, params: ParamsLike, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False, **clip: Any) -> None:
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas,
                        eps=eps, maximize=maximize)
        super().__init__(params, defaults, **clip)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_betas(group["betas"])
        check_nonneg("eps", group["eps"])

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        raise RuntimeError("SparseAdam does not support dense gradients (as in PyTorch); use "
                           "Adam for parameters that are not Embedding(sparse=True) tables")

    def _update_sparse(self, p: np.ndarray, grad: SparseGrad, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        beta1, beta2 = (float(b) for b in group["betas"])
        t = count_step(state, p, "exp_avg", "exp_avg_sq")
        rows, g = grad.indices, grad.values
        if group["maximize"]:
            g = -g
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m_old, v_old = m[rows], v[rows]
        m_new = (g - m_old) * (1.0 - beta1)
        m_new += m_old
        v_new = (g * g - v_old) * (1.0 - beta2)
        v_new += v_old
        m[rows], v[rows] = m_new, v_new
        step_size = float(group["lr"]) * math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
        denom = np.sqrt(v_new)
        denom += float(group["eps"])
        np.divide(m_new, denom, out=m_new)
        m_new *= step_size
        p[rows] -= m_new
