"""The graph walk: topological order without recursion, cotangent accumulation, release.

``backward`` accumulates into leaves' ``.grad`` (PyTorch's ``Tensor.backward``);
``grad`` returns the cotangents of chosen tensors without touching ``.grad``
(``torch.autograd.grad``). Both run the same loop, ``_run``. Rules run under no-grad
unless ``create_graph`` asks for a differentiable result. Broadcasting is undone here,
once, by ``sum_to``; zero cotangents are ``None`` throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import GraphReleasedError
from . import ops
from . import tensor as _tensor
from .mode import fw_level_now, grad_enabled_now, set_grad_enabled, set_grad_enabled_now, state
from .primitive import Joint
from .tensor import FREED, Tensor, _make, _to_array
from .versions import check_saved


def toposort(roots: Sequence[Tensor], constants: bool = False) -> list[Tensor]:
    """Tensors that require grad, reachable from ``roots``, parents before children.

    With ``constants=True`` every tensor of the graph is listed (for drawing it).
    Iterative depth-first search, so a chain of any length is fine.
    """
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in roots if r._rg or constants]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        parents = node._parents
        if parents is FREED:
            raise GraphReleasedError(
                f"backward through the graph a second time: the saved tensors of "
                f"'{node._op.name}' were released after the first backward. Pass "
                f"retain_graph=True to the first backward if you need to go through it again.")
        if parents:
            for p in parents:
                if (p._rg or constants) and id(p) not in seen:
                    stack.append((p, False))
    return order


def _seed(root: Tensor, gradient: Any) -> Tensor:
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() needs a gradient argument for a non-scalar output of shape "
                f"{root.shape}: pass gradient= with that shape (e.g. ones for a sum), or "
                f"reduce the output to a scalar first (e.g. y.sum().backward()).")
        return _make(np.ones_like(root.data))
    g = gradient if isinstance(gradient, Tensor) else _make(np.array(_to_array(gradient)))
    if g.shape != root.shape:
        raise ValueError(f"gradient of shape {g.shape} does not match the output's shape "
                         f"{root.shape}")
    if g.dtype != root.dtype:
        g = ops.cast(g, root.dtype)
    return g


def _fit(gi: Tensor, p: Tensor) -> Tensor:
    """Undo broadcasting (and dtype promotion) of a cotangent for parent ``p``."""
    if gi.data.shape != p.data.shape:
        gi = ops.sum_to(gi, p.data.shape)
    if gi.data.dtype != p.data.dtype:
        gi = ops.cast(gi, p.data.dtype)
    return gi


def _run(roots: Sequence[Tensor], seeds: Sequence[Tensor], order: list[Tensor],
         needed: set[int] | None, retain_graph: bool, create_graph: bool,
         on_leaf: Any = None, keep: set[int] | None = None) -> dict[int, Tensor]:
    """Propagate cotangents from ``roots`` through ``order`` (reversed).

    ``needed``: ids of tensors whose cotangent is wanted (None = every tensor), used to
    skip rules on paths that lead nowhere. ``keep``: ids whose cotangent is returned.
    ``on_leaf(leaf, g)`` receives leaves' cotangents. ``order`` is emptied as the walk goes,
    so that (without ``retain_graph``) a tensor, with what its rule saved, is freed as soon
    as its own backward and its children's have run, not at the end of the walk.
    """
    grads: dict[int, Tensor] = {}
    for r, s in zip(roots, seeds):
        prev = grads.get(id(r))
        grads[id(r)] = s if prev is None else prev + s
    # Cotangent buffers this loop allocated and nobody else has seen: when no graph and no
    # forward tangent records the arithmetic, further contributions go in in place.
    owned: set[int] = set()
    # (nor a trace of chainrule.graph, which records each operation the walk does)
    in_place = not create_graph and not fw_level_now() and not state.tracing
    clock = _tensor._clock  # a node stamped with it saw no in-place change since it was made
    checksums: dict[int, int] = {}  # of memories exposed by .numpy(), for check_saved
    kept: dict[int, Tensor] = {}
    saved_mode = grad_enabled_now()
    set_grad_enabled_now(create_graph)
    try:
        while order:
            node = order.pop()  # children before parents
            g = grads.pop(id(node), None)
            if g is None:
                continue
            owned.discard(id(g))
            if keep is not None and id(node) in keep:
                kept[id(node)] = g
            parents = node._parents
            if node._op is None:  # a leaf
                if on_leaf is not None:
                    on_leaf(node, g)
                continue
            if node._stamp != clock:
                check_saved(node, checksums)  # raises if what its rule reads was changed
            op, params = node._op, node._params
            joint = op.vjps if isinstance(op.vjps, Joint) else None
            cts = None
            for i, p in enumerate(parents):
                if not p._rg or (needed is not None and id(p) not in needed):
                    continue
                if op.accumulate is not None and in_place:
                    buf = _owned_buffer(grads, owned, p)
                    op.accumulate(buf.data, g.data, **params)
                    continue
                if joint is not None:  # one computation gives every argument's cotangent
                    if cts is None:
                        cts = joint.rule(g, node, *parents, **params)
                    gi = cts[i]
                else:
                    rule = op.vjps[i]
                    if rule is None:
                        raise NotImplementedError(f"no vjp rule for primitive '{op.name}' "
                                                  f"(argument {i})")
                    gi = rule(g, node, *parents, **params)
                if gi is None:
                    continue
                gi = _fit(gi, p)
                prev = grads.get(id(p))
                if prev is None:
                    grads[id(p)] = gi
                elif id(prev) in owned:
                    np.add(prev.data, gi.data, out=prev.data)
                else:
                    grads[id(p)] = prev + gi
                    if in_place:
                        owned.add(id(grads[id(p)]))
            if not retain_graph:
                node._parents = FREED
                node._params = None
    finally:
        set_grad_enabled_now(saved_mode)
    return kept


def _owned_buffer(grads: dict[int, Tensor], owned: set[int], p: Tensor) -> Tensor:
    """p's cotangent as a buffer this loop owns (zeros, plus what was there before)."""
    prev = grads.get(id(p))
    if prev is not None and id(prev) in owned:
        return prev
    data = np.zeros_like(p.data)
    if prev is not None:
        data += prev.data
    buf = _make(data)
    grads[id(p)] = buf
    owned.add(id(buf))
    return buf


#: Functions ``hook(leaf)`` that :func:`backward` calls as soon as a leaf's ``.grad`` is final.
GRAD_READY_HOOKS: list[Callable[[Tensor], None]] = []


def register_grad_ready_hook(hook: Callable[[Tensor], None]) -> Callable[[], None]:
    """Call ``hook(leaf)`` in every :func:`backward` as soon as the leaf's ``.grad`` holds
    its value for that backward (every path into the leaf has run; PyTorch's
    ``register_post_accumulate_grad_hook``, for all leaves at once). Data-parallel training
    starts reducing gradients with it while the backward pass goes on. Returns a function
    that removes the hook."""
    GRAD_READY_HOOKS.append(hook)

    def remove() -> None:
        if hook in GRAD_READY_HOOKS:
            GRAD_READY_HOOKS.remove(hook)

    return remove


def _grad_ready(leaf: Tensor) -> None:
    for hook in tuple(GRAD_READY_HOOKS):
        hook(leaf)


def backward(roots: Sequence[Tensor], gradients: Sequence[Any] | None = None,
             retain_graph: bool = False, create_graph: bool = False) -> None:
    """Accumulate d(roots)/d(leaf), weighted by ``gradients``, into every leaf's ``.grad``."""
    for r in roots:
        if not r._rg:
            raise RuntimeError("backward() on a tensor that does not require grad: no input "
                               "of its computation had requires_grad=True (or it was "
                               "computed under no_grad)")
    seeds = [_seed(r, None if gradients is None else gradients[k]) for k, r in enumerate(roots)]
    order = toposort(roots)
    leaves = [node for node in order if node._op is None]
    stored: set[int] = set()

    def accumulate(leaf: Tensor, g: Tensor) -> None:
        if not create_graph and (id(g.data) in stored or not g.data.flags.owndata
                                 or g is seeds[0]):
            g = _make(g.data.copy())  # never alias one array into two .grad fields
        stored.add(id(g.data))
        if leaf.grad is None:
            leaf.grad = g if create_graph else _make(g.data)
        else:
            with set_grad_enabled(create_graph):
                leaf.grad = leaf.grad + g
        if GRAD_READY_HOOKS:
            _grad_ready(leaf)

    _run(roots, seeds, order, None, retain_graph or create_graph, create_graph,
         on_leaf=accumulate)
    for leaf in leaves:  # leaves reached with a zero gradient show zeros, as in PyTorch
        if leaf.grad is None:
            leaf.grad = _make(np.zeros_like(leaf.data))
            if GRAD_READY_HOOKS:
                _grad_ready(leaf)


def grad(outputs: Sequence[Tensor], inputs: Sequence[Tensor],
         grad_outputs: Sequence[Any] | None = None, retain_graph: bool | None = None,
         create_graph: bool = False) -> list[Tensor | None]:
    """Cotangents of ``inputs``, without touching ``.grad``: None for an input the outputs
    do not reach, zeros for one they reach only through structurally zero derivatives.

    ``grad_outputs`` default to ones for one-element outputs (as PyTorch requires).
    """
    outputs = list(outputs)
    inputs = list(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    live = [k for k, o in enumerate(outputs) if o._rg]
    if not live:
        return [None] * len(inputs)
    seeds = [_seed(outputs[k], None if grad_outputs is None else grad_outputs[k])
             for k in live]
    roots = [outputs[k] for k in live]
    order = toposort(roots)
    want = {id(t) for t in inputs}
    needed = _leads_to(order, want)
    kept = _run(roots, seeds, order, needed, retain_graph, create_graph, keep=want)
    # An input the outputs reach gets zeros where every path's derivative is structurally
    # zero (through sign, floor, ...), as backward() does; None only for an unconnected one.
    return [kept[id(t)] if id(t) in kept else
            (_make(np.zeros_like(t.data)) if id(t) in needed else None) for t in inputs]


def _leads_to(order: list[Tensor], want: set[int]) -> set[int]:
    """Ids of tensors in ``order`` from which some tensor in ``want`` can be reached."""
    needed: set[int] = set()
    for node in order:  # parents come first
        if id(node) in want or (node._op is not None
                                and any(id(p) in needed for p in node._parents)):
            needed.add(id(node))
    return needed
