"""Function transforms: grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp.

They take functions of tensors and accept floats, lists, ndarrays or Tensors as inputs;
results are Tensors, so transforms compose (``grad(grad(f))``, ``jacobian(grad(f))``).

* Reverse mode (``grad``, ``vjp``, ``jacobian(mode="rev")``) records ``f`` and walks the
  graph back. The result stays differentiable whenever something outside could still
  differentiate it (an outer ``grad``, a tape, an input that requires grad).
* Forward mode (``jvp``, ``jacobian(mode="fwd")``) pushes tangents through the jvp rules in
  the same pass as the values: no reverse trick. One forward level is active at a time;
  reverse mode may be nested inside or around it, so ``hessian`` is forward-over-reverse.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, ops
from .mode import state
from .tensor import Tensor, _make, _to_array, get_default_dtype

_levels = itertools.count(1)


def _float_tensor(x: Any) -> Tensor:
    t = x if isinstance(x, Tensor) else Tensor(x)
    if t.data.dtype.kind not in "fc":
        t = _make(t.data.astype(get_default_dtype()))
    return t


def _fresh_input(x: Any) -> tuple[Tensor, bool]:
    """A tensor to differentiate with respect to, and whether it is a fresh leaf.

    A tensor that already requires grad is used as it is (its outer graph stays
    connected); anything else becomes a new leaf that keeps its forward tangent.
    """
    t = _float_tensor(x)
    if t._rg:
        return t, False
    leaf = _make(t.data, requires_grad=True)
    leaf._tangent = t._tangent
    return leaf, True


def _argnums(argnums: int | Sequence[int]) -> tuple[tuple[int, ...], bool]:
    if isinstance(argnums, int):
        return (argnums,), True
    return tuple(argnums), False


def _outer_interest(order: list[Tensor], fresh: set[int]) -> bool:
    """Does the recorded graph reach a requires-grad leaf that is not one of ours?"""
    return any(n._op is None and id(n) not in fresh for n in order)


def _reverse(f: Callable, args: tuple, nums: tuple[int, ...]) -> tuple[Tensor, list, bool]:
    """Run ``f`` with the chosen arguments as differentiable inputs."""
    args = list(args)
    fresh: set[int] = set()
    outer = False
    for i in nums:
        if i >= len(args):
            raise ValueError(f"argnums {i} is out of range for {len(args)} arguments")
        args[i], is_fresh = _fresh_input(args[i])
        if is_fresh:
            fresh.add(id(args[i]))
        else:
            outer = True
    saved = state.grad_enabled
    state.grad_enabled = True
    try:
        out = f(*args)
    finally:
        state.grad_enabled = saved
    out = _float_tensor(out) if not isinstance(out, Tensor) else out
    order = engine.toposort([out])
    create = outer or _outer_interest(order, fresh) or _tape_recording()
    return out, [args[i] for i in nums], create


def _tape_recording() -> bool:
    from .tape import GradientTape

    return GradientTape.any_recording()


def _zeros_for(t: Tensor) -> Tensor:
    return _make(np.zeros_like(t.data))


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``f`` and its gradient with respect to argument(s) ``argnums``; ``f`` returns a scalar."""
    nums, single = _argnums(argnums)

    def wrapped(*args: Any) -> tuple[Tensor, Any]:
        out, inputs, create = _reverse(f, args, nums)
        if out.data.size != 1:
            raise ValueError(f"grad needs f to return a scalar, got shape {out.shape}; use "
                             "jacobian or vjp for vector outputs")
        gs = engine.grad([out], inputs, create_graph=create)
        gs = [_zeros_for(t) if g is None else g for g, t in zip(gs, inputs)]
        value = out if create else out.detach()
        return value, gs[0] if single else tuple(gs)

    return wrapped


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The gradient function of a scalar ``f``: ``grad(f)(x)`` has ``x``'s shape.

    >>> grad(lambda x: x ** 3)(2.0)   # 3 * 2**2
    tensor(12.)
    """
    vg = value_and_grad(f, argnums)

    def wrapped(*args: Any) -> Any:
        return vg(*args)[1]

    return wrapped


def vjp(f: Callable, *primals: Any) -> tuple[Tensor, Callable]:
    """``(f(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` returns one cotangent per primal."""
    out, inputs, create = _reverse(f, primals, tuple(range(len(primals))))

    def vjp_fn(cotangent: Any) -> tuple[Tensor, ...]:
        ct = _to_array(cotangent)
        if ct.shape != out.shape:
            raise ValueError(f"vjp: cotangent of shape {ct.shape} does not match the output "
                             f"shape {out.shape}")
        gs = engine.grad([out], inputs, [ct.astype(out.dtype)], retain_graph=True,
                         create_graph=create)
        return tuple(_zeros_for(t) if g is None else g for g, t in zip(gs, inputs))

    return (out if create else out.detach()), vjp_fn


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Tensor, Tensor]:
    """``(f(*primals), J @ tangents)`` by forward mode: tangents ride along with the values.

    ``primals`` and ``tangents`` are sequences of the same length and matching shapes.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    if state.fw_level:
        raise NotImplementedError(
            "jvp inside jvp (nested forward mode) is not supported; differentiate the outer "
            "level in reverse mode instead (e.g. jacobian(..., mode='rev'))")
    level = next(_levels)
    xs = []
    for p, t in zip(primals, tangents):
        x = _float_tensor(p)
        tv = _float_tensor(t)
        if tv.shape != x.shape:
            raise ValueError(f"jvp: tangent of shape {tv.shape} does not match its primal's "
                             f"shape {x.shape}")
        x = ops.PRIMITIVES["alias"](x) if x._rg else _make(x.data)
        x._tangent = (level, ops.cast(tv, x.dtype))
        xs.append(x)
    state.fw_level = level
    try:
        out = f(*xs)
    finally:
        state.fw_level = 0
    out = _float_tensor(out) if not isinstance(out, Tensor) else out
    tan = out._tangent
    tangent_out = tan[1] if tan is not None and tan[0] == level else _zeros_for(out)
    primal_out = _make(out.data) if not out._rg else out
    return primal_out, tangent_out


def jacobian(f: Callable, argnums: int | Sequence[int] = 0, mode: str = "rev") -> Callable:
    """The Jacobian function: shape ``f(x).shape + x.shape`` for each argument in argnums.

    ``mode="rev"`` builds it row by row with vector-Jacobian products (one backward pass
    per output element); ``mode="fwd"`` column by column with jvps (one forward pass per
    input element). Choose the mode whose count is smaller.
    """
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")
    nums, single = _argnums(argnums)

    def rev(*args: Any) -> Any:
        out, inputs, create = _reverse(f, args, nums)
        rows: list[list[Tensor]] = [[] for _ in inputs]
        for k in range(out.data.size):
            seed = np.zeros(out.data.size, dtype=out.dtype)
            seed[k] = 1
            gs = engine.grad([out], inputs, [seed.reshape(out.shape)], retain_graph=True,
                             create_graph=create) if out._rg else [None] * len(inputs)
            for j, (g, t) in enumerate(zip(gs, inputs)):
                rows[j].append(_zeros_for(t) if g is None else g)
        jacs = tuple(ops.reshape(ops.stack(r) if r else _make(np.zeros((0,) + t.shape)),
                                 out.shape + t.shape) for r, t in zip(rows, inputs))
        return jacs[0] if single else jacs

    def fwd(*args: Any) -> Any:
        args = list(args)
        jacs = []
        for i in nums:
            x = _float_tensor(args[i])
            cols = []
            out_shape: tuple = ()
            for k in range(x.data.size):
                e = np.zeros(x.data.size, dtype=x.dtype)
                e[k] = 1

                def f_i(xi: Tensor, i: int = i) -> Any:
                    return f(*(args[:i] + [xi] + args[i + 1:]))

                out, col = jvp(f_i, (x,), (e.reshape(x.shape),))
                out_shape = out.shape
                cols.append(col)
            jac = ops.stack(cols, axis=-1) if cols else _make(np.zeros(out_shape + (0,)))
            jacs.append(ops.reshape(jac, out_shape + x.shape))
        return jacs[0] if single else tuple(jacs)

    return rev if mode == "rev" else fwd


def hessian(f: Callable, argnums: int = 0) -> Callable:
    """The Hessian of a scalar ``f`` (shape ``x.shape + x.shape``), forward-over-reverse."""
    if not isinstance(argnums, int):
        raise ValueError("hessian: argnums must be a single int")
    return jacobian(grad(f, argnums), argnums, mode="fwd")


def hvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> Tensor | tuple:
    """Hessian-vector product of a scalar ``f``: forward mode over the reverse-mode gradient.

    Returns H @ v (one tensor for one primal, else a tuple), never forming H.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    nums = tuple(range(len(primals)))
    g = grad(f, nums)
    if len(primals) == 1:
        return jvp(lambda x: g(x)[0], primals, tangents)[1]
    _, flat = jvp(lambda *xs: ops.concatenate([ops.flatten(t) for t in g(*xs)]),
                  primals, tangents)
    parts, start = [], 0
    for p in primals:
        shape = np.shape(_to_array(p))
        n = int(np.prod(shape))
        parts.append(ops.reshape(flat[start:start + n], shape))
        start += n
    return tuple(parts)
