"""The Adam family: Adam (and AMSGrad), AdamW, Adamax, NAdam."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .optimizer import (
    Optimizer,
    ParamsLike,
    add_weight_decay,
    check_betas,
    check_nonneg,
    count_step,
    ema_update,
)


class _AdamBase(Optimizer):
    """Shared validation and the moment updates ``m`` (first) and ``v`` (second)."""

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_betas(group["betas"])
        check_nonneg("eps", group["eps"])
        check_nonneg("weight_decay", group["weight_decay"])

    def _decay(self, p: np.ndarray, g: np.ndarray, group: dict[str, Any]) -> np.ndarray:
        """Apply weight decay: decoupled (``p *= 1 - lr*wd``) or L2 (``g + wd*p``)."""
        wd = float(group["weight_decay"])
        if wd == 0:
            return g
        if group.get("decoupled_weight_decay", False):
            p *= 1.0 - float(group["lr"]) * wd
            return g
        return add_weight_decay(self._scratch(p, 0), p, g, wd)

    @staticmethod
    def _moments(m: np.ndarray, v: np.ndarray, g: np.ndarray, beta1: float, beta2: float,
                 tmp: np.ndarray) -> None:
        """``m <- b1 m + (1 - b1) g`` and ``v <- b2 v + (1 - b2) g**2``, in place."""
        ema_update(m, g, 1.0 - beta1, tmp)
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - beta2
        v *= beta2
        v += tmp


class Adam(_AdamBase):
    r"""Adam (Kingma & Ba 2015; PyTorch's ``torch.optim.Adam`` algorithm), optionally AMSGrad.

    With step ``t`` (from 1) and moments ``m_0 = v_0 = 0``::

        g <- g + weight_decay * p                     (L2, if weight_decay != 0)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        v_max <- max(v_max, v);  v_hat = v_max        (if amsgrad; else v_hat = v)
        p <- p - lr / (1 - beta1**t) * m / (sqrt(v_hat) / sqrt(1 - beta2**t) + eps)

    With ``decoupled_weight_decay=True`` the decay is instead ``p <- p * (1 - lr *
    weight_decay)`` before the update — that is :class:`AdamW`.
    """

    def __init__(self, params: ParamsLike, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 decoupled_weight_decay: bool = False, **clip: Any) -> None:
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas,
                        eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, **clip)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        beta1, beta2 = (float(b) for b in group["betas"])
        t = count_step(state, p, "exp_avg", "exp_avg_sq")
        g = self._decay(p, g, group)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = self._scratch(p, 1)
        self._moments(m, v, g, beta1, beta2, tmp)
        if group["amsgrad"]:
            v_max = state.get("max_exp_avg_sq")
            if v_max is None:
                v_max = state["max_exp_avg_sq"] = np.zeros_like(p)
            np.maximum(v_max, v, out=v_max)
            v = v_max
        step_size = float(group["lr"]) / (1.0 - beta1 ** t)
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(1.0 - beta2 ** t)
        tmp += float(group["eps"])
        np.divide(m, tmp, out=tmp)
        tmp *= step_size
        p -= tmp


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay.

    Each step first shrinks the parameter, ``p <- p * (1 - lr * weight_decay)``, then applies
    the Adam update without any decay in the gradient (see :class:`Adam`). The default
    ``weight_decay`` is 1e-2, as in PyTorch.
    """

    def __init__(self, params: ParamsLike, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, **clip: Any) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad,
                         decoupled_weight_decay=True, **clip)

    def _check_group(self, group: dict[str, Any]) -> None:
        group["decoupled_weight_decay"] = True
        super()._check_group(group)


class Adamax(_AdamBase):
    r"""Adamax (Kingma & Ba 2015, sec. 7.1; PyTorch's ``torch.optim.Adamax`` algorithm).

    Adam with the infinity norm in place of the second moment (``m_0 = u_0 = 0``)::

        g <- g + weight_decay * p                     (if weight_decay != 0)
        m <- beta1 * m + (1 - beta1) * g
        u <- max(beta2 * u, |g| + eps)
        p <- p - lr / (1 - beta1**t) * m / u
    """

    def __init__(self, params: ParamsLike, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, **clip: Any) -> None:
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas,
                        eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults, **clip)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        beta1, beta2 = (float(b) for b in group["betas"])
        count_step(state, p, "exp_avg", "exp_inf")
        g = self._decay(p, g, group)
        m, u = state["exp_avg"], state["exp_inf"]
        tmp = self._scratch(p, 1)
        ema_update(m, g, 1.0 - beta1, tmp)
        np.abs(g, out=tmp)
        tmp += float(group["eps"])
        u *= beta2
        np.maximum(u, tmp, out=u)
        np.divide(m, u, out=tmp)
        tmp *= float(group["lr"]) / (1.0 - beta1 ** state["step"])
        p -= tmp


class NAdam(_AdamBase):
    r"""NAdam (Dozat 2016; PyTorch's ``torch.optim.NAdam`` algorithm): Adam with Nesterov
    momentum and a momentum-decay schedule.

    With ``psi = momentum_decay``, ``mu_t = beta1 * (1 - 0.5 * 0.96**(t * psi))`` and
    ``P_t = mu_1 * ... * mu_t`` (kept in the state as ``mu_product``)::

        g <- g + weight_decay * p                     (L2, if weight_decay != 0)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        d  = sqrt(v / (1 - beta2**t)) + eps
        p <- p - lr * (1 - mu_t) / (1 - P_t) * g / d
               - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d

    ``decoupled_weight_decay=True`` decays as AdamW does (``p <- p * (1 - lr * wd)``).
    """

    _scalar_state = ("step", "mu_product")

    def __init__(self, params: ParamsLike, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, **clip: Any) -> None:
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas,
                        eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, **clip)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_nonneg("momentum_decay", group["momentum_decay"])

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        beta1, beta2 = (float(b) for b in group["betas"])
        psi, lr = float(group["momentum_decay"]), float(group["lr"])
        t = count_step(state, p, "exp_avg", "exp_avg_sq", mu_product=1.0)
        g = self._decay(p, g, group)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        denom = self._scratch(p, 1)
        self._moments(m, v, g, beta1, beta2, denom)
        np.divide(v, 1.0 - beta2 ** t, out=denom)
        np.sqrt(denom, out=denom)
        denom += float(group["eps"])
        tmp = self._scratch(p, 2)
        np.divide(g, denom, out=tmp)
        tmp *= lr * (1.0 - mu) / (1.0 - mu_product)
        p -= tmp
        np.divide(m, denom, out=tmp)
        tmp *= lr * mu_next / (1.0 - mu_product * mu_next)
        p -= tmp
