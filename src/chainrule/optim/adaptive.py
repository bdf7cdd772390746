"""Per-coordinate adaptive step sizes: Adagrad and RMSprop."""

from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import (
    Optimizer,
    ParamsLike,
    add_weight_decay,
    check_nonneg,
    check_unit_interval,
    count_step,
    ema_update,
)
from .sparse import adagrad_sparse_update


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al. 2011; PyTorch's ``torch.optim.Adagrad`` algorithm).

    With step count ``t`` (starting at 1) and accumulator ``s`` (``s_0 =
    initial_accumulator_value``)::

        g   <- g + weight_decay * p                         (if weight_decay != 0)
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s   <- s + g**2
        p   <- p - lr_t * g / (sqrt(s) + eps)
    """

    def __init__(self, params: ParamsLike, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, **clip: Any) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, defaults, **clip)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_nonneg(name, group[name])

    def _update_sparse(self, p: np.ndarray, grad: Any, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        """A sparse gradient (Embedding(sparse=True)): see :mod:`chainrule.optim.sparse`."""
        adagrad_sparse_update(p, grad, state, group)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p, float(group["initial_accumulator_value"]))
        state["step"] += 1
        wd = float(group["weight_decay"])
        if wd != 0:
            g = add_weight_decay(self._scratch(p, 0), p, g, wd)
        clr = float(group["lr"]) / (1.0 + (state["step"] - 1) * float(group["lr_decay"]))
        s = state["sum"]
        tmp = np.multiply(g, g, out=self._scratch(p, 1))
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += float(group["eps"])
        np.divide(g, tmp, out=tmp)
        tmp *= clr
        p -= tmp


class RMSprop(Optimizer):
    r"""RMSprop (Hinton 2012; PyTorch's ``torch.optim.RMSprop`` algorithm).

    With running square average ``v`` (``v_0 = 0``), running mean ``m`` (centered only,
    ``m_0 = 0``) and momentum buffer ``b`` (``b_0 = 0``)::

        g <- g + weight_decay * p                           (if weight_decay != 0)
        v <- alpha * v + (1 - alpha) * g**2
        m <- alpha * m + (1 - alpha) * g                    (if centered)
        d  = sqrt(v - m**2) + eps   if centered   else   sqrt(v) + eps
        b <- momentum * b + g / d;  p <- p - lr * b         (if momentum > 0)
        p <- p - lr * g / d                                 (otherwise)
    """

    def __init__(self, params: ParamsLike, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, **clip: Any) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered)
        super().__init__(params, defaults, **clip)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_unit_interval("alpha", group["alpha"])
        check_unit_interval("momentum", group["momentum"])
        check_nonneg("eps", group["eps"])
        check_nonneg("weight_decay", group["weight_decay"])

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        alpha, momentum = float(group["alpha"]), float(group["momentum"])
        count_step(state, p, "square_avg")
        wd = float(group["weight_decay"])
        if wd != 0:
            g = add_weight_decay(self._scratch(p, 0), p, g, wd)
        v = state["square_avg"]
        d = np.multiply(g, g, out=self._scratch(p, 1))
        d *= 1.0 - alpha
        v *= alpha
        v += d
        if group["centered"]:
            m = state.get("grad_avg")
            if m is None:
                m = state["grad_avg"] = np.zeros_like(p)
            ema_update(m, g, 1.0 - alpha, d)
            np.multiply(m, m, out=d)
            np.subtract(v, d, out=d)
            np.sqrt(d, out=d)
        else:
            np.sqrt(v, out=d)
        d += float(group["eps"])
        np.divide(g, d, out=d)  # d = g / denominator
        if momentum > 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = np.zeros_like(p)
            b *= momentum
            b += d
            np.multiply(b, float(group["lr"]), out=d)
        else:
            d *= float(group["lr"])
        p -= d
