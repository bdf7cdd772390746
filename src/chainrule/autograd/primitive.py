"""Primitives: the rows of the rule table, the registry, and constructors that derive rules.

A ``Primitive`` is a NumPy forward plus, per tensor argument, a vector-Jacobian product
(vjp) and a Jacobian-vector product (jvp):

* ``forward(*arrays, **params)`` works on ndarrays and returns an ndarray;
* ``vjp_i(g, y, *xs, **params)`` gives the cotangent of argument ``i`` from the output's
  cotangent ``g``, the output ``y`` and the inputs ``xs`` — all Tensors, computed with
  differentiable ops so gradients of gradients work. ``None`` means "zero". Broadcasting
  is undone by the engine, never here: a rule may return a cotangent of the output shape;
* ``jvp_i(t, y, *xs, **params)`` gives the output tangent contributed by the tangent ``t``
  of argument ``i``; contributions are summed and broadcast in one place
  (``_push_tangents``).

Every primitive made by a constructor below is registered in ``PRIMITIVES`` (name ->
primitive) as it is made. The constructors derive what can be derived (as PyTorch's
``auto_element_wise``/``auto_linear`` and JAX's ``defjvp2``/``deflinear``):

* ``elementwise(name, forward, *partials)``: one partial derivative per argument,
  ``d_i(y, *xs, **params)``; the vjp is ``g * d_i`` and the jvp ``t * d_i``
  (``reciprocal(h)`` marks a partial ``1 / h``: the rules then divide by ``h``);
* ``linear(name, forward, transpose)``: a one-argument linear op; its jvp is the op itself
  applied to the tangent, its vjp the given transpose;
* ``bilinear(name, forward, transpose_a, transpose_b)`` and ``multilinear``: ops linear in
  each argument separately (mul, matmul, einsum, conv); the jvp for argument ``i`` is the
  op with that argument replaced by its tangent;
* ``prim(name, forward, vjp, jvp)``: both rules by hand, where nothing can be derived;
* ``nondiff(name, forward)``: outputs never carry gradients (comparisons, argmax).

``Primitive(...)`` itself makes an unregistered primitive (for experiments and tests).
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import numpy as np

from ..errors import ShapeError
from .mode import fw_level_now, grad_enabled_now, has_visible_tangent, state
from .tensor import Tensor, _make, get_default_dtype

Rule = Any  # a vjp or jvp function, see the module docstring


class Primitive:
    """One row of the rule table. Calling it applies the op to tensors."""

    __slots__ = ("name", "forward", "vjps", "jvps", "differentiable", "accumulate", "kind")

    def __init__(self, name: str, forward: Any, vjp: Any, jvp: Any,
                 differentiable: bool = True, accumulate: Any = None) -> None:
        self.name = name
        # How the rules were made (set by the constructors below), for the rule table
        # in docs/engine.md: "elementwise", "linear", "multilinear", "by hand" or
        # "non-differentiable".
        self.kind = "by hand" if differentiable else "non-differentiable"
        self.forward = forward
        self.vjps = vjp if isinstance(vjp, (tuple, Each, Joint)) else (vjp,)
        self.jvps = jvp if isinstance(jvp, (tuple, Each)) else (jvp,)
        self.differentiable = differentiable
        # Optional shortcut for a one-argument linear op whose vjp scatters into zeros
        # (indexing): ``accumulate(buffer, g, **params)`` adds the cotangent in place.
        # Used only when no graph of the gradient is recorded; the vjp stays the rule.
        self.accumulate = accumulate

    def __call__(self, *args: Tensor, **params: Any) -> Tensor:
        """Run forward on tensors; record the node when gradients are wanted."""
        for a in args:
            if not isinstance(a, Tensor):  # numbers and arrays become constants
                args = tuple(lift(b) for b in args)
                break
        try:
            out = self.forward(*[a.data for a in args], **params)
        except ValueError as e:
            shapes = ", ".join(str(a.data.shape) for a in args)
            raise ShapeError(f"{self.name}: inputs of shapes {shapes} do not fit: {e}") from None
        y = _make(out)
        if not self.differentiable or y.data.dtype.kind not in "fc":
            return y
        if grad_enabled_now():
            for a in args:
                if a._rg:
                    y._rg = True
                    y._op = self
                    y._parents = args
                    y._params = params
                    break
        if fw_level_now():
            _push_tangents(self, y, args, params)
        return y

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


class Each:
    """Rules for a primitive with any number of tensor arguments: ``rule(i, ...)``."""

    __slots__ = ("rule",)

    def __init__(self, rule: Any) -> None:
        self.rule = rule

    def __getitem__(self, i: int) -> Any:
        rule = self.rule
        return lambda *a, **k: rule(i, *a, **k)


class Joint:
    """Cotangents of all arguments from one computation: ``rule(g, y, *xs, **params)``
    returns a tuple with one cotangent (or None) per argument. For primitives such as a
    whole recurrent scan, where the arguments' cotangents come out of one backward loop."""

    __slots__ = ("rule",)

    def __init__(self, rule: Any) -> None:
        self.rule = rule


# --------------------------------------------------------------------------- registry

PRIMITIVES: dict[str, Primitive] = {}
#: name -> the module that registered it (for the rule table in docs/engine.md)
DEFINED_IN: dict[str, str] = {}


def register(p: Primitive) -> Primitive:
    """Add ``p`` to ``PRIMITIVES`` under its name (names are unique)."""
    if PRIMITIVES.get(p.name, p) is not p:
        raise ValueError(f"a primitive named '{p.name}' is already registered")
    PRIMITIVES[p.name] = p
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    DEFINED_IN[p.name] = "" if frame is None else frame.f_globals.get("__name__", "")
    return p


def prim(name: str, forward: Any, vjp: Any = None, jvp: Any = None, **kw: Any) -> Primitive:
    """A registered primitive with hand-written rules (one per argument, a tuple for
    several, ``Each(rule)`` for any number, ``Joint(rule)`` for one backward for all)."""
    return register(Primitive(name, forward, vjp, jvp, **kw))


def nondiff(name: str, forward: Any) -> Primitive:
    """A primitive whose output never carries gradients (comparisons, argmax, ...)."""
    return register(Primitive(name, forward, None, None, differentiable=False))


# --------------------------------------------------------------------------- constructors


class reciprocal:  # lower case: it reads as a function in a rule table
    """A partial derivative given as ``1 / h(y, *xs)``: the rules compute ``g / h``."""

    __slots__ = ("h",)

    def __init__(self, h: Any) -> None:
        self.h = h


def _takes_params(fn: Any, n_tensors: int) -> bool:
    """Whether ``fn(y, *xs, ...)`` (``n_tensors`` = 1 + len(xs)) accepts keyword params."""
    sig = inspect.signature(fn.h if isinstance(fn, reciprocal) else fn)
    kinds = [p.kind for p in sig.parameters.values()]
    return len(kinds) > n_tensors or inspect.Parameter.VAR_KEYWORD in kinds


def _scaled(d: Any, n_args: int) -> Rule:
    """The rule ``v -> v * d(y, *xs)`` (or ``v / h`` for a reciprocal): elementwise ops
    have a diagonal Jacobian, so the same rule serves as vjp and as jvp.

    It calls the mul (div) primitive directly, as ``v * d`` would after the operator's
    dispatch: the same NumPy work in fewer Python calls, paying for the extra call of ``d``.
    """
    table = PRIMITIVES  # "mul" and "div" are looked up when the rule runs
    if isinstance(d, reciprocal):
        h = d.h
        if _takes_params(h, n_args + 1):
            return lambda v, y, *xs, **p: table["div"](v, h(y, *xs, **p))
        if n_args == 1:
            return lambda v, y, x: table["div"](v, h(y, x))
        return lambda v, y, *xs: table["div"](v, h(y, *xs))
    if _takes_params(d, n_args + 1):
        return lambda v, y, *xs, **p: table["mul"](v, d(y, *xs, **p))
    if n_args == 1:  # the common case, without argument packing
        return lambda v, y, x: table["mul"](v, d(y, x))
    return lambda v, y, *xs: table["mul"](v, d(y, *xs))


def elementwise(name: str, forward: Any, *partials: Any) -> Primitive:
    """An elementwise primitive from one partial derivative per argument.

    ``partials[i](y, *xs, **params)`` is d forward / d xs[i] at every element, a Tensor
    computed with differentiable ops (or ``reciprocal(h)`` for ``1 / h``). Both rules
    follow: vjp_i = g * partial_i and jvp_i = t * partial_i.

    >>> cosh = elementwise("cosh", np.cosh, lambda y, x: sinh(x))
    """
    rules = tuple(_scaled(d, len(partials)) for d in partials)
    p = prim(name, forward, vjp=rules, jvp=rules)
    p.kind = "elementwise"
    return p


def linear(name: str, forward: Any, transpose: Rule, **kw: Any) -> Primitive:
    """A one-argument primitive linear in its tensor argument: its jvp is the op itself
    applied to the tangent (same params); ``transpose(g, y, x, **params)`` is its vjp."""
    p = Primitive(name, forward, transpose, None, **kw)
    p.jvps = (lambda t, y, x, **params: p(t, **params),)
    p.kind = "linear"
    return register(p)


def multilinear(name: str, forward: Any, *transposes: Rule) -> Primitive:
    """A primitive linear in each tensor argument separately (mul, matmul, einsum, conv).

    ``transposes``: one vjp per argument, ``transpose_i(g, y, *xs, **params)``, or a single
    ``Each(rule)`` for any number of arguments. The jvp for argument ``i`` is the op with
    ``xs[i]`` replaced by its tangent.
    """
    if len(transposes) == 1 and isinstance(transposes[0], Each):
        p = Primitive(name, forward, transposes[0], None)
        p.kind = "multilinear"
        p.jvps = Each(lambda i, t, y, *xs, **params: p(*xs[:i], t, *xs[i + 1:], **params))
        return register(p)
    p = Primitive(name, forward, tuple(transposes), None)
    p.kind = "multilinear"
    if len(transposes) == 2 and not any(_takes_params(f, 4) for f in transposes):
        p.jvps = (lambda t, y, a, b: p(t, b), lambda t, y, a, b: p(a, t))
    else:
        p.jvps = tuple(_replace_arg(p, i) for i in range(len(transposes)))
    return register(p)


def _replace_arg(p: Primitive, i: int) -> Rule:
    return lambda t, y, *xs, **params: p(*xs[:i], t, *xs[i + 1:], **params)


def bilinear(name: str, forward: Any, transpose_a: Rule, transpose_b: Rule) -> Primitive:
    """``multilinear`` with two arguments: jvp = op(t, b) and op(a, t)."""
    return multilinear(name, forward, transpose_a, transpose_b)


# --------------------------------------------------------------------------- forward mode


def _push_tangents(p: Primitive, y: Tensor, args: tuple, params: dict) -> None:
    """y's tangent at every visible forward level, outermost first.

    The tangent of level ``L`` is computed with only the levels outside ``L`` visible: the
    rule's ops are then differentiated by those outer levels (so the tangent carries its
    own outer tangents, the mixed derivatives) and never by ``L`` itself. Outer levels go
    first, so that a rule using ``y`` sees ``y``'s outer tangents already in place.
    """
    levels = state.fw_level
    try:
        for k, level in enumerate(levels):
            state.fw_level = levels[:k]
            total = None
            for i, a in enumerate(args):
                tans = a._tangent
                if tans is None:
                    continue
                tan = tans.get(level)
                if tan is None:
                    continue
                rule = p.jvps[i]
                if rule is None:
                    raise NotImplementedError(f"no jvp rule for primitive '{p.name}' "
                                              f"(argument {i})")
                ti = rule(tan, y, *args, **params)
                if ti is not None:
                    total = ti if total is None else total + ti
            if total is not None:
                if total.data.shape != y.data.shape:
                    total = PRIMITIVES["broadcast_to"](total, shape=y.data.shape)
                if y._tangent is None:
                    y._tangent = {level: total}
                else:
                    y._tangent[level] = total
    finally:
        state.fw_level = levels


def unrecorded(*ts: Tensor) -> bool:
    """True when nothing records operations on ``ts``: no reverse-mode graph (grad mode is
    off, as in a backward without create_graph, or none of them requires grad) and no
    forward-mode tangent at a visible level. A rule may then compute with NumPy directly:
    its first-order fast path, the same numbers as its differentiable form without
    recording a graph. While ``chainrule.trace`` records a forward pass it is False: the
    ops must be recorded, or the traced values would be frozen as constants."""
    if state.tracing_forward or grad_enabled_now() and any(t._rg for t in ts):
        return False
    return not (fw_level_now() and any(has_visible_tangent(t) for t in ts))


# --------------------------------------------------------------------------- helpers for rules


def zero(*_: Any, **__: Any) -> None:
    """A rule whose result is always zero (``None``)."""
    return None


def lift(x: Any, like: Tensor | None = None) -> Tensor:
    """Turn a Python number or array into a constant tensor.

    A Python scalar takes the floating dtype of ``like`` so that ``x * 2.0`` stays float32.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float, bool, np.number, np.bool_)):
        if like is not None and like.data.dtype.kind == "f":
            return _make(np.asarray(x, dtype=like.data.dtype))
        if isinstance(x, float):
            return _make(np.asarray(x, dtype=get_default_dtype()))
    elif isinstance(x, (list, tuple)) and _holds_tensor(x):
        return _stack_nested(x, like)
    return Tensor(x)


def _holds_tensor(x: Any) -> bool:
    """Whether a (nested) list/tuple holds a Tensor somewhere."""
    return any(isinstance(e, Tensor) or (isinstance(e, (list, tuple)) and _holds_tensor(e))
               for e in x)


def _stack_nested(x: Any, like: Tensor | None) -> Tensor:
    """A (nested) list/tuple holding tensors as one tensor, through the differentiable
    ``stack``: the derivative flows to every tensor inside (``mean([x, x])``). Numbers
    beside the tensors are constants of their dtype."""
    parts = [lift(e, like) if isinstance(e, (list, tuple)) else e for e in x]
    ref = next((e for e in parts if isinstance(e, Tensor) and e.data.dtype.kind in "fc"),
               like)
    parts = [lift(e, ref) for e in parts]
    ops = _ops()
    dtypes = {e.data.dtype for e in parts}
    if len(dtypes) > 1:
        common = np.result_type(*dtypes)
        parts = [e if e.data.dtype == common else ops.cast(e, common) for e in parts]
    return ops.stack(parts)


def _ops() -> Any:
    from . import ops

    return ops


def lift_pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as tensors; an int operand takes the float's dtype."""
    if not isinstance(a, Tensor):
        a = lift(a, b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = lift(b, a)
    da, db = a.data.dtype, b.data.dtype
    if da != db and (da.kind == "f") != (db.kind == "f"):  # int with float: keep the float
        if da.kind == "f":
            b = _make(b.data.astype(da))
        else:
            a = _make(a.data.astype(db))
    return a, b


def const(arr: np.ndarray) -> Tensor:
    """A constant tensor around an array computed inside a rule."""
    return _make(arr)


def mask_like(cond: np.ndarray, like: Tensor) -> Tensor:
    """A boolean array as a 0/1 constant of ``like``'s dtype."""
    return _make(cond.astype(like.data.dtype))
