"""The tracer: run a function once and record the primitives it calls as a ``Graph``.

``trace(fn, *example_args)`` runs ``fn`` on fresh tensors holding the example arrays
(concrete tracing, as ``torch.jit.trace``: the values are real, so every rule, shape check
and NumPy kernel runs as in eager mode). While it runs, ``Primitive.__call__`` is replaced
by a recording version (the eager path pays nothing for tracing) that appends one
``Node`` per primitive call. The backward pass of ``value_and_grad``/``grad`` records too:
each vector-Jacobian rule the engine calls becomes one node ``vjp.<name>[i]`` (the rule
is run as a whole at run time, because rules may read their inputs' values — a ReLU mask,
a max's ties — to build constants; recording only their primitives would freeze those).
What the engine adds between rules (broadcast sums, casts, the sum of two cotangents)
are primitives and are recorded as such. So ``trace(value_and_grad(loss), w, x)`` is one
flat graph: the forward primitives, then the backward nodes.

The data structure, for readers and for other back ends (ONNX export):

* ``Var``: one value. ``kind`` is ``"input"`` (``graph.inputs``, in order), ``"param"``
  (a tensor captured from outside that requires grad: read by reference at every run, so
  optimizer updates are seen), ``"const"`` (any other captured or created tensor: its
  array at trace time, by reference) or ``"value"`` (the output of a node). ``shape``,
  ``dtype``; ``tensor`` holds the captured tensor of a param/const.
* ``Node``: ``op`` (the ``Primitive``, or None for a rule node), ``name`` (the
  primitive's name, or ``"vjp.<name>[i]"``/``"vjp.<name>"`` for a rule),
  ``inputs``/``outputs`` (tuples of ``Var``), ``params`` (the primitive's keyword
  arguments), ``fn`` (what runs: the NumPy forward, or the rule).
* ``Graph``: ``inputs``, ``outputs``, ``nodes`` (in order), ``consts`` (params and consts
  read by the nodes), ``__call__`` (``run.py``), ``str()`` a listing.

Graphs run on C-contiguous input arrays (others are copied first): whether a reshape
views or copies its input depends on the layout, and the memory plan relies on the views
seen at trace time.

Rules of tracing (as for TF functions): arrays and tensors among the arguments are the
graph's inputs; every other argument (numbers, strings, flags) is static, baked into the
graph. Python control flow and side effects run once, at trace time. Reading a traced
value in Python (``bool(t)``, ``float(t)``, ``t.item()``, ``t.numpy()``) raises
``TraceError``: the graph could not follow it. Forward mode (``jvp``) and ``backward()``
inside a traced function are refused with a ``TraceError`` (use ``value_and_grad``), as
are random draws from ``chainrule.random`` and in-place methods on traced tensors
(``x += y`` is recorded as ``x = x + y``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd.mode import state
from ..autograd.primitive import Joint, Primitive, lift
from ..autograd.pytree import tree_flatten
from ..autograd.tensor import Tensor, _make
from ..random import get_rng
from .inline import record_flat
from .ir import Graph, Node, Slot, TraceError, Var, WithSlots, is_dynamic
from .randomness import RANDOM

__all__ = ["Graph", "Node", "TraceError", "Tracer", "Var", "trace"]

_EAGER_CALL = Primitive.__call__


# --------------------------------------------------------------------------- the tracer

_ACTIVE: list[Tracer] = []


class Tracer:
    """The recording state of one ``trace`` call."""

    def __init__(self, inline: bool = True) -> None:
        self.inline = inline  # record rules' primitives where safe, else rules whole
        self.vars: dict[int, Var] = {}  # id(Tensor) -> Var
        self.arrays: dict[int, Var] = {}  # id(ndarray) -> Var, for aliases (detach)
        self.keep: list[Any] = []  # keeps every mapped object alive, so ids stay unique
        self.nodes: list[Node] = []
        self.depth = 0  # > 0 while a rule runs as one node
        self.count = 0
        self.saved_rules: dict[Primitive, Any] = {}
        self.grads: dict[int, Any] = {}  # id(param tensor) -> its .grad when first seen

    def new_var(self, kind: str, arr: np.ndarray, tensor: Tensor | None = None) -> Var:
        v = Var(self.count, kind, arr.shape, arr.dtype, tensor)
        self.count += 1
        return v

    def bind(self, t: Tensor, v: Var) -> None:
        self.vars[id(t)] = v
        self.arrays[id(t.data)] = v
        self.keep.append(t)
        self.keep.append(t.data)

    def var_of(self, t: Tensor) -> Var:
        v = self.vars.get(id(t))
        if v is not None:
            return v
        v = self.arrays.get(id(t.data))
        if v is None:  # not computed in the trace: captured (by reference)
            kind = "param" if t._rg and t._op is None else "const"
            v = self.new_var(kind, t.data, t)
            if kind == "param":
                self.grads[id(t)] = t.grad
        self.bind(t, v)
        return v

    def is_traced(self, t: Tensor) -> bool:
        v = self.vars.get(id(t)) or self.arrays.get(id(t.data))
        return v is not None and v.kind in ("input", "value")

    def buffer_of(self, out: Var, arr: np.ndarray, args: tuple) -> int | None:
        """``out.buffer`` (see ``Var``) for the array ``arr`` a node computed from ``args``."""
        for t in args:
            if np.may_share_memory(arr, t.data):
                v = self.var_of(t)
                return v.buffer if v.kind == "value" else None
        return out.id if arr.base is None and arr.flags.writeable else None

    # --------------------------------------------------------------- recording
    def record_prim(self, p: Primitive, args: tuple, params: dict) -> Tensor:
        ins = tuple(self.var_of(a) for a in args)
        y = _EAGER_CALL(p, *args, **params)
        out = self.new_var("value", y.data)
        out.buffer = self.buffer_of(out, y.data, args)
        fn, shown = p.forward, params
        extra: list[Var] = []
        if any(isinstance(v, (np.ndarray, tuple)) for v in params.values()):
            # an index array read from a traced tensor (an embedding's, a gather's key)
            shown = {k: self.slotted(v, len(ins), extra) for k, v in params.items()}
            if extra:
                fn = WithSlots(p.forward, len(ins))
        self.nodes.append(Node(p, p.name, fn, ins + tuple(extra), (out,), shown))
        self.bind(y, out)
        if p.differentiable and p not in self.saved_rules:
            self.saved_rules[p] = (p.vjps, p.accumulate)
            p.vjps = _recorded_rules(self, p, p.vjps)
            p.accumulate = None
        return y

    def slotted(self, value: Any, n_inputs: int, extra: list[Var]) -> Any:
        """``value`` with every array of a traced value replaced by a ``Slot`` (the array
        becomes an input of the node, appended to ``extra``)."""
        if isinstance(value, tuple):
            return tuple(self.slotted(v, n_inputs, extra) for v in value)
        if isinstance(value, np.ndarray):
            v = self.arrays.get(id(value))
            if v is not None and v.kind in ("input", "value"):
                extra.append(v)
                return Slot(n_inputs + len(extra) - 1)
        return value

    def record_rule(self, name: str, rule: Callable, tensors: tuple, params: dict,
                    joint: bool) -> Any:
        saved = state.tracing_forward  # a rule may take its fast path (recorded whole)
        state.tracing_forward = False
        try:
            return self._record_rule(name, rule, tensors, params, joint)
        finally:
            state.tracing_forward = saved

    def _record_rule(self, name: str, rule: Callable, tensors: tuple, params: dict,
                     joint: bool) -> Any:
        ins = tuple(self.var_of(t) for t in tensors)
        result = None
        if self.inline:  # the rule's own primitives, when that is safe (inline.py)
            kept, result = record_flat(self, rule, tensors, ins, params, joint)
            if kept:
                return result
        if result is None:
            self.depth += 1
            try:
                result = rule(*tensors, **params)
            finally:
                self.depth -= 1
        outs = tuple(result) if joint else (result,)
        if any(isinstance(t, Tensor) and t._rg for t in outs):
            raise TraceError(
                f"{name}: a derivative of this rule is taken (a gradient of a gradient), but "
                f"the rule reads its inputs' values, so it is recorded as one node whose "
                f"inside the graph cannot differentiate; trace the first derivative only, "
                f"or compute higher derivatives eagerly")
        out_vars = []
        for t in outs:
            if t is None:
                out_vars.append(None)
                continue
            v = self.new_var("value", t.data)
            v.buffer = self.buffer_of(v, t.data, tensors)
            out_vars.append(v)
            self.bind(t, v)
        if any(v is not None for v in out_vars):
            fn: Callable = _RuleCall(rule, joint, out_vars)
            extra: list[Var] = []
            shown = {k: self.slotted(v, len(ins), extra) for k, v in params.items()}
            if extra:
                fn = WithSlots(fn, len(ins))
            self.nodes.append(Node(None, name, fn, ins + tuple(extra),
                                   tuple(v for v in out_vars if v is not None), shown))
        return result

    def restore(self) -> None:
        for p, (vjps, accumulate) in self.saved_rules.items():
            p.vjps = vjps
            p.accumulate = accumulate
        self.saved_rules.clear()


class _RuleCall:
    """What a rule node runs: the rule on tensors around the arrays, gradients off."""

    __slots__ = ("rule", "joint", "shapes")

    def __init__(self, rule: Callable, joint: bool, out_vars: list[Var | None]) -> None:
        self.rule = rule
        self.joint = joint
        self.shapes = [None if v is None else (v.shape, v.dtype) for v in out_vars]

    def __call__(self, *arrays: np.ndarray, **params: Any) -> Any:
        saved = state.grad_enabled
        state.grad_enabled = False
        try:
            result = self.rule(*[_make(a) for a in arrays], **params)
        finally:
            state.grad_enabled = saved
        if not self.joint:
            return _array_or_zeros(result, self.shapes[0])
        return tuple(_array_or_zeros(r, s) for r, s in zip(result, self.shapes)
                     if s is not None)


def _array_or_zeros(t: Tensor | None, spec: tuple) -> np.ndarray:
    return np.zeros(spec[0], spec[1]) if t is None else t.data


def _recorded_rules(tracer: Tracer, p: Primitive, vjps: Any) -> Any:
    """``p``'s vjp rules, each recording itself as one node when the engine calls it."""
    if isinstance(vjps, Joint):
        rule = vjps.rule
        return Joint(lambda *ts, **params: tracer.record_rule(
            f"vjp.{p.name}", rule, ts, params, joint=True))

    class Rules:
        def __getitem__(self, i: int) -> Any:
            rule = vjps[i]
            if rule is None:
                return None
            return lambda *ts, **params: tracer.record_rule(
                f"vjp.{p.name}[{i}]", rule, ts, params, joint=False)

    return Rules()


def _traced_call(self: Primitive, *args: Any, **params: Any) -> Tensor:
    """``Primitive.__call__`` while tracing: the eager call, recorded."""
    tracer = _ACTIVE[-1] if _ACTIVE else None
    if tracer is None or tracer.depth:
        return _EAGER_CALL(self, *args, **params)
    if state.fw_level:
        raise TraceError("forward mode (jvp) inside a traced function is not supported: "
                         "trace the function without jvp, or call jvp outside the trace")
    if not all(isinstance(a, Tensor) for a in args):
        args = tuple(lift(a) for a in args)
    if self in RANDOM:  # it draws again at every run: its trace-time draw is not kept
        rng = get_rng()
        saved = rng.bit_generator.state
        try:
            return tracer.record_prim(self, args, params)
        finally:
            rng.bit_generator.state = saved
    return tracer.record_prim(self, args, params)


def _guard(t: Tensor) -> None:
    """Refuse a Python read of a traced value (bool, float, item, numpy, ...)."""
    tracer = _ACTIVE[-1] if _ACTIVE else None
    if tracer is not None and not tracer.depth and tracer.is_traced(t):
        raise TraceError(
            f"a traced tensor of shape {t.shape} was read as a Python value (bool(), float(), "
            f"item(), numpy(), ...) while tracing: the graph cannot follow Python control flow "
            f"on tensor values. Compute with tensor ops (cr.where, maximum, ...) instead, or "
            f"pass the value as a static (non-array) argument")


# Tensor methods that hand a value to Python: while tracing, the class carries guarded
# versions (swapped in and out like Primitive.__call__, so eager mode pays nothing).
_READS = ("item", "tolist", "numpy", "__array__", "__bool__")
_EAGER_READS = {name: getattr(Tensor, name) for name in _READS}


def _guarded(name: str) -> Callable:
    eager = _EAGER_READS[name]

    def read(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        _guard(self)
        return eager(self, *args, **kwargs)

    read.__name__ = name
    return read


_GUARDED_READS = {name: _guarded(name) for name in _READS}


# In-place changes: ``x += y`` on a traced tensor becomes ``x = x + y`` (recorded; the name
# is rebound, as in JAX); an explicit in-place method on a tensor the graph uses raises.
_AUGMENTED = {"__iadd__": "__add__", "__isub__": "__sub__", "__imul__": "__mul__",
              "__itruediv__": "__truediv__", "__ipow__": "__pow__"}
_IN_PLACE = tuple(n for n in ("add_", "sub_", "mul_", "div_", "pow_", "zero_", "fill_",
                              "copy_", "clamp_", "clip_", "__setitem__") if hasattr(Tensor, n))
_EAGER_WRITES = {n: Tensor.__dict__.get(n) for n in (*_AUGMENTED, *_IN_PLACE)}


def _used(t: Tensor) -> bool:
    tracer = _ACTIVE[-1] if _ACTIVE else None
    return (tracer is not None and not tracer.depth
            and (id(t) in tracer.vars or id(t.data) in tracer.arrays))


def _augmented(name: str) -> Callable:
    eager, out_of_place = _EAGER_WRITES[name], getattr(Tensor, _AUGMENTED[name])

    def method(self: Tensor, other: Any) -> Tensor:
        if _used(self):
            return out_of_place(self, other)
        return eager(self, other) if eager is not None else out_of_place(self, other)

    return method


def _refused(name: str) -> Callable:
    eager = _EAGER_WRITES[name]

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        if _used(self):
            raise TraceError(
                f"{name}: an in-place change of a tensor the traced graph uses (an input, "
                f"a computed value, a parameter or constant read earlier) is not recorded; "
                f"use the out-of-place op (y = x + ...) inside a traced function. (A "
                f"module updating its state in training mode, such as BatchNorm's running "
                f"statistics, must be traced in eval mode.)")
        return eager(self, *args, **kwargs)

    return method


_GUARDED_WRITES = {**{n: _augmented(n) for n in _AUGMENTED},
                   **{n: _refused(n) for n in _IN_PLACE}}


def _swap(tracing: bool) -> None:
    """Put the recording/guarded methods on Primitive and Tensor (or the eager ones back)."""
    Primitive.__call__ = _traced_call if tracing else _EAGER_CALL
    for name in _READS:
        setattr(Tensor, name, (_GUARDED_READS if tracing else _EAGER_READS)[name])
    for name, method in _GUARDED_WRITES.items():
        if tracing:
            setattr(Tensor, name, method)
        elif _EAGER_WRITES[name] is None:
            delattr(Tensor, name)
        else:
            setattr(Tensor, name, _EAGER_WRITES[name])


def _rng_state() -> tuple:
    rng = get_rng()
    return id(rng), rng.bit_generator.state


def trace(fn: Callable, *example_args: Any, name: str | None = None,
          inline_rules: bool = True) -> Graph:
    """Run ``fn(*example_args)`` once and return its ``Graph``.

    Arrays and tensors among the (pytree) arguments become the graph's inputs; other
    leaves are static. ``fn`` returns a tensor or a pytree of them (other leaves are
    returned as they were at trace time). ``inline_rules=False`` records every vjp rule
    as one node (``inline.py`` says when a rule's primitives are recorded instead).

    >>> g = trace(lambda x: (x * 2).exp(), np.ones(3))
    >>> print(g)                                              # doctest: +SKIP
    """
    leaves, in_tree = tree_flatten(example_args)
    tracer = Tracer(inline_rules)
    call_leaves, in_static, inputs = [], [], []
    for leaf in leaves:
        if is_dynamic(leaf):
            arr = np.ascontiguousarray(leaf.data if isinstance(leaf, Tensor) else leaf)
            t = _make(arr)
            v = tracer.new_var("input", arr)
            tracer.bind(t, v)
            inputs.append(v)
            call_leaves.append(t)
            in_static.append(None)
        else:
            call_leaves.append(leaf)
            in_static.append(leaf)
    args = in_tree.unflatten(call_leaves)
    rng_before = _rng_state()
    _ACTIVE.append(tracer)
    saved_tracing = state.tracing, state.tracing_forward
    _swap(True)
    state.tracing = state.tracing_forward = True
    try:
        result = fn(*args)
        out_leaves, out_tree = tree_flatten(result)
        outputs, out_static = [], []
        for leaf in out_leaves:
            if isinstance(leaf, Tensor):
                outputs.append(tracer.var_of(leaf))
                out_static.append(None)
            else:
                outputs.append(None)
                out_static.append(leaf)
    finally:
        _ACTIVE.pop()
        tracer.restore()
        state.tracing, state.tracing_forward = saved_tracing
        if not _ACTIVE:
            _swap(False)
    if _rng_state() != rng_before:
        raise TraceError("random numbers were drawn from chainrule.random while tracing "
                         "(dropout in training mode, a random initialization, noise): they "
                         "would be frozen into the graph as constants. Trace the model in "
                         "eval mode, or draw the noise outside and pass it as an argument")
    for t in tracer.keep:
        if isinstance(t, Tensor) and id(t) in tracer.grads and t.grad is not tracer.grads[id(t)]:
            raise TraceError("backward() ran inside a traced function (a .grad changed): "
                             "its accumulation into .grad is a side effect the graph does not "
                             "record; return gradients with cr.value_and_grad / cr.grad "
                             "instead (chainrule.graph.compile_step wraps this for a model)")
    label = name or getattr(fn, "__name__", "fn")
    return Graph(inputs, outputs, tracer.nodes, in_tree, in_static, out_tree, out_static,
                 name="fn" if label == "<lambda>" else label)
