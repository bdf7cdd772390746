"""Optimizer: the base class every update rule shares.

An optimizer holds *parameter groups* (as in PyTorch): a list of dicts, each with a
``"params"`` list of Tensors and that group's hyperparameters (``"lr"``, ...). Schedules
change ``optimizer.param_groups[i]["lr"]`` between steps; ``step()`` reads it each time.

``step()`` updates every parameter whose ``.grad`` is not None, **in place** on
``param.data`` (so arrays held elsewhere stay valid), on plain ndarrays (no graph), in the
parameter's own dtype. Per-parameter state (moment estimates, step counts) lives in
``optimizer.state[param]`` and is created on the parameter's first update. Subclasses
implement one method, ``_update(p, g, state, group)``, and may ask for scratch arrays
(``self._scratch``) so a step allocates nothing after the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from ..autograd.mode import enable_grad
from ..autograd.tensor import Tensor
from ..autograd.versions import mark_modified
from ..nn.sparse_grad import SparseGrad
from .clip import _clip_each_norm, clip_grad_norm_, clip_grad_value_

ParamsLike = Iterable[Tensor] | Iterable[Mapping[str, Any]]


# --------------------------------------------------------------------------- validation


def check_nonneg(name: str, value: Any) -> None:
    """Raise ValueError unless ``value`` is a real number >= 0 (NaN fails)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def check_unit_interval(name: str, value: Any, closed: bool = False) -> None:
    """Raise ValueError unless ``0 <= value < 1`` (``<= 1`` when ``closed``)."""
    check_nonneg(name, value)
    if not (value <= 1 if closed else value < 1):
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value}")


def check_betas(betas: Any) -> None:
    """Raise ValueError unless ``betas`` is a pair of numbers in [0, 1)."""
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    check_unit_interval("betas[0]", betas[0])
    check_unit_interval("betas[1]", betas[1])


# --------------------------------------------------------------------------- update helpers


def add_weight_decay(out: np.ndarray, p: np.ndarray, g: np.ndarray, wd: float) -> np.ndarray:
    """``out = g + wd * p`` (L2 weight decay folded into the gradient); returns ``out``."""
    np.multiply(p, wd, out=out)
    out += g
    return out


def count_step(state: dict[str, Any], p: np.ndarray, *buffers: str, **first: Any) -> int:
    """Count one more step in a parameter's ``state`` and return it; on the first step,
    create the state: ``first``'s values, then a zero array like ``p`` for each name in
    ``buffers`` (PyTorch's state names, e.g. ``"exp_avg"``)."""
    if not state:
        state["step"] = 0
        state.update(first)
        for name in buffers:
            state[name] = np.zeros_like(p)
    state["step"] += 1
    return state["step"]


def ema_update(m: np.ndarray, g: np.ndarray, w: float, tmp: np.ndarray) -> None:
    """``m <- m + w * (g - m)`` in place, i.e. ``m <- (1 - w) * m + w * g``.

    An exponential moving average written the way ``torch.lerp`` computes it; ``tmp`` is
    scratch space shaped like ``m``.
    """
    np.subtract(g, m, out=tmp)
    tmp *= w
    m += tmp


# --------------------------------------------------------------------------- base class


class Optimizer:
    """Base class: parameter groups, state, ``step``, ``zero_grad``, ``state_dict``.

    Args:
        params: an iterable of Tensors, or of dicts ``{"params": [...], **options}`` whose
            options override ``defaults`` for that group.
        defaults: hyperparameters for groups that do not set them.
        clipnorm: if set, clip each parameter's gradient to this L2 norm before the update
            (Keras ``clipnorm``; ``g <- g * clipnorm / max(||g||, clipnorm)``).
        global_clipnorm: if set, clip all gradients together to this global L2 norm
            (Keras ``global_clipnorm``; the same as :func:`clip_grad_norm_`).
        clipvalue: if set, clip every gradient element to ``[-clipvalue, clipvalue]``.

    Clipping options modify ``param.grad`` in place, as :func:`clip_grad_norm_` does.
    """

    #: State entries that are numbers; every other entry is an array shaped like the param.
    _scalar_state: tuple[str, ...] = ("step",)

    def __init__(self, params: ParamsLike, defaults: dict[str, Any], *,
                 clipnorm: float | None = None, global_clipnorm: float | None = None,
                 clipvalue: float | None = None) -> None:
        for name, value in (("clipnorm", clipnorm), ("global_clipnorm", global_clipnorm),
                            ("clipvalue", clipvalue)):
            if value is not None:
                check_nonneg(name, value)
        self.clipnorm = clipnorm
        self.global_clipnorm = global_clipnorm
        self.clipvalue = clipvalue
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        self._work: dict[tuple[np.dtype, int], np.ndarray] = {}

        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors (or of dicts), got a single "
                            "Tensor; wrap it in a list: [param]")
        groups = list(params)
        if not groups:
            raise ValueError("params is empty: the optimizer got no parameters to optimize")
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ----------------------------------------------------------------- groups
    def add_param_group(self, group: Mapping[str, Any]) -> None:
        """Add a group ``{"params": [...], **options}``; missing options use the defaults."""
        if not isinstance(group, Mapping) or "params" not in group:
            raise TypeError("a parameter group must be a dict with a 'params' entry")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError("params is empty: a parameter group has no parameters")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"params must be Tensors, got {type(p).__name__}")
            if p.data.dtype.kind != "f":
                raise TypeError(f"params must be floating-point tensors, got {p.data.dtype}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise ValueError("params: some parameters appear more than once "
                             "(in this group or another)")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} for "
                             f"{type(self).__name__}; expected {sorted(self.defaults)}")
        new = {**self.defaults, **group, "params": params}
        self._check_group(new)
        self.param_groups.append(new)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate one group's hyperparameters (raise ValueError naming the bad one)."""
        check_nonneg("lr", group["lr"])

    def _params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    # ----------------------------------------------------------------- stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget gradients: ``p.grad = None`` (or fill with zeros if not ``set_to_none``)."""
        for p in self._params():
            if set_to_none:
                p.grad = None
            elif isinstance(p.grad, SparseGrad):
                p.grad.zero_()
            elif p.grad is not None:
                p.grad.data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()`` if given.

        ``closure`` (optional) re-evaluates the model, calls ``backward`` and returns the
        loss; it is called first (with gradient recording on), as in PyTorch.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._clip()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if isinstance(p.grad, SparseGrad):  # Embedding(sparse=True): optim/sparse.py
                    self._step_sparse(p, p.grad, group)
                    continue
                g = p.grad.data
                if g.shape != p.data.shape:
                    raise ValueError(f"{type(self).__name__}.step: gradient shape {g.shape} does "
                                     f"not match parameter shape {p.data.shape}")
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {}
                self._update(p.data, g, state, group)
                mark_modified(p, f"{type(self).__name__}.step")  # a graph that saved p is stale
        return loss

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        """Update ``p`` in place from gradient ``g`` (read only). Subclasses implement."""
        raise NotImplementedError

    #: ``_update_sparse(p, grad, state, group)``, for optimizers that take a SparseGrad.
    _update_sparse: Callable[..., None] | None = None

    def _step_sparse(self, p: Tensor, grad: SparseGrad, group: dict[str, Any]) -> None:
        name = type(self).__name__
        if self._update_sparse is None:
            raise RuntimeError(f"{name} does not support sparse gradients (the weight of an "
                               "Embedding(sparse=True)), as in PyTorch; use SGD, Adagrad or "
                               "SparseAdam for it, or Embedding(sparse=False)")
        if grad.shape != p.data.shape:
            raise ValueError(f"{name}.step: gradient shape {grad.shape} does not match "
                             f"parameter shape {p.data.shape}")
        self._update_sparse(p.data, grad, self.state.setdefault(p, {}), group)
        mark_modified(p, f"{name}.step")

    def _clip(self) -> None:
        if self.clipnorm is None and self.global_clipnorm is None and self.clipvalue is None:
            return
        params = self._params()
        if self.clipnorm is not None:
            _clip_each_norm(params, self.clipnorm)
        if self.global_clipnorm is not None:
            clip_grad_norm_(params, self.global_clipnorm)
        if self.clipvalue is not None:
            clip_grad_value_(params, self.clipvalue)

    def _scratch(self, p: np.ndarray, k: int = 0) -> np.ndarray:
        """Scratch array ``k`` shaped and typed like ``p`` (shared by all parameters).

        One flat buffer per (dtype, k), grown to the largest parameter, so that steps after
        the first allocate nothing. Its contents are garbage between uses.
        """
        key = (p.dtype, k)
        buf = self._work.get(key)
        if buf is None or buf.size < p.size:
            buf = self._work[key] = np.empty(p.size, dtype=p.dtype)
        return buf[:p.size].reshape(p.shape)

    # ----------------------------------------------------------------- saving
    def state_dict(self) -> dict[str, Any]:
        """A copy of the optimizer's state as plain nested dicts of ndarrays and numbers.

        ``{"state": {index: {name: value}}, "param_groups": [{..., "params": [index]}]}``
        where ``index`` numbers the parameters across groups in order (as PyTorch does).
        Arrays are copies, so later steps do not change a saved state.
        """
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {
            index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v)
                           for k, v in s.items()}
            for p, s in self.state.items() if id(p) in index
        }
        groups = [{**{k: v for k, v in g.items() if k != "params"},
                   "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state saved by :meth:`state_dict` (copies arrays in)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: the saved state has {len(groups)} parameter "
                             f"groups, this optimizer has {len(self.param_groups)}")
        for saved, mine in zip(groups, self.param_groups):
            if len(saved["params"]) != len(mine["params"]):
                raise ValueError("load_state_dict: a saved parameter group has "
                                 f"{len(saved['params'])} parameters, this one has "
                                 f"{len(mine['params'])}")
        params = self._params()
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, saved in state_dict["state"].items():
            i = int(key)
            if not 0 <= i < len(params):
                raise ValueError(f"load_state_dict: state for parameter {i}, but this "
                                 f"optimizer has {len(params)} parameters")
            p = params[i]
            entry: dict[str, Any] = {}
            for name, value in saved.items():
                if name in self._scalar_state:
                    entry[name] = int(value) if name == "step" else float(value)
                    continue
                value = np.asarray(value)
                if value.shape != p.data.shape:
                    raise ValueError(f"load_state_dict: state '{name}' of parameter {i} has "
                                     f"shape {value.shape}, the parameter {p.data.shape}")
                entry[name] = value.astype(p.data.dtype, copy=True)
            new_state[p] = entry
        new_groups = []
        for saved, mine in zip(groups, self.param_groups):
            group = {k: (tuple(v) if k == "betas" else v) for k, v in saved.items()}
            group["params"] = mine["params"]
            self._check_group(group)
            new_groups.append(group)
        for mine, new in zip(self.param_groups, new_groups):  # keep the dicts' identity
            mine.clear()
            mine.update(new)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            opts = ", ".join(f"{k}={v}" for k, v in g.items() if k != "params")
            lines.append(f"  group {i}: {len(g['params'])} params, {opts}")
        return "\n".join(lines) + "\n)"
