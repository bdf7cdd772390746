"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamsLike, check_nonneg, check_unit_interval
from .sparse import sgd_sparse_update


class SGD(Optimizer):
    r"""Stochastic gradient descent (PyTorch's ``torch.optim.SGD`` algorithm).

    With gradient ``g``, parameter ``p``, and momentum buffer ``b`` (``b_1 = g_1``)::

        g <- g + weight_decay * p                          (if weight_decay != 0)
        b <- momentum * b + (1 - dampening) * g            (if momentum != 0)
        g <- g + momentum * b   if nesterov   else   b     (if momentum != 0)
        p <- p - lr * g

    Args:
        params: Tensors or parameter-group dicts.
        lr: learning rate (>= 0).
        momentum: momentum factor in [0, 1).
        dampening: in [0, 1]; scales the gradient entering the buffer.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening == 0).
        weight_decay: L2 penalty coefficient (>= 0), added to the gradient.
        clipnorm, global_clipnorm, clipvalue: gradient clipping, see :class:`Optimizer`.
    """

    def __init__(self, params: ParamsLike, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                 **clip: Any) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                        weight_decay=weight_decay)
        super().__init__(params, defaults, **clip)
        self._sparse_rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # optim/sparse.py

    def _update_sparse(self, p: np.ndarray, grad: Any, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        """A sparse gradient (Embedding(sparse=True)): see :mod:`chainrule.optim.sparse`."""
        sgd_sparse_update(self._sparse_rows, p, grad, state, group)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_unit_interval("momentum", group["momentum"])
        check_unit_interval("dampening", group["dampening"], closed=True)
        check_nonneg("weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening == 0, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        wd, dampening = float(group["weight_decay"]), float(group["dampening"])
        d = g
        if wd != 0:
            d = np.multiply(p, wd, out=self._scratch(p, 0))
            d += g
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d.astype(p.dtype, copy=True)
            else:
                if self._sparse_rows:  # a dense step fills rows a sparse one did not
                    self._sparse_rows.pop(id(buf), None)
                buf *= momentum
                if dampening == 0:
                    buf += d
                else:
                    tmp = np.multiply(d, 1.0 - dampening, out=self._scratch(p, 1))
                    buf += tmp
            if group["nesterov"]:
                tmp = np.multiply(buf, momentum, out=self._scratch(p, 1))
                tmp += d
                d = tmp
            else:
                d = buf
        step = np.multiply(d, lr, out=self._scratch(p, 1))
        p -= step
