"""Function transforms: grad, value_and_grad, vjp, jvp (``jacobian``/``hessian`` in
``jacobians.py``).

They take functions of tensors and accept floats, lists, ndarrays or Tensors as inputs,
and nested tuples, lists and dicts of them (pytrees, ``pytree.py``) as JAX does: a
derivative comes back in the structure of what it is the derivative with respect to.
Results are Tensors, so transforms compose (``grad(grad(f))``, ``jvp(jvp(f))``).

* Reverse mode (``grad``, ``vjp``) records ``f`` and walks the graph back. The result
  stays differentiable whenever something outside could still differentiate it (an outer
  ``grad``, a tape, an input or cotangent that requires grad), and always keeps the
  forward-mode tangents of enclosing ``jvp``s.
* Forward mode (``jvp``) pushes tangents through the jvp rules in the same pass as the
  values. Each ``jvp`` opens a new forward level, so ``jvp`` nests in ``jvp`` to any depth
  and mixes freely with reverse mode inside or around it (``mode.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, ops
from .mode import forward_level, has_visible_tangent, state
from .pytree import TreeDef, split_leaves, tree_flatten
from .tensor import Tensor, _make, get_default_dtype

_levels = itertools.count(1)


def _float_tensor(x: Any) -> Tensor:
    t = x if isinstance(x, Tensor) else Tensor(x)
    if t.data.dtype.kind not in "fc":
        t = _make(t.data.astype(get_default_dtype()))
    return t


def _fresh_input(x: Any) -> tuple[Tensor, bool]:
    """A tensor to differentiate with respect to, and whether it is a fresh leaf.

    A tensor that already requires grad is used as it is (its outer graph stays
    connected); anything else becomes a new leaf that keeps its forward tangents.
    """
    t = _float_tensor(x)
    if t._rg:
        return t, False
    leaf = _make(t.data, requires_grad=True)
    leaf._tangent = t._tangent
    return leaf, True


def _argnums(argnums: int | Sequence[int], n_args: int) -> tuple[tuple[int, ...], bool]:
    single = isinstance(argnums, (int, np.integer))
    nums = (int(argnums),) if single else tuple(int(i) for i in argnums)
    out = []
    for i in nums:
        if not -n_args <= i < n_args:
            raise ValueError(f"argnums {i} is out of range for {n_args} arguments")
        out.append(i % n_args)
    return tuple(out), single


def _cut(t: Any) -> Any:
    """``t`` cut from the reverse graph, keeping its forward-mode tangents."""
    if not isinstance(t, Tensor) or not t._rg:
        return t
    out = _make(t.data)
    out._tangent = t._tangent
    return out


def _tape_recording() -> bool:
    from .tape import GradientTape

    return GradientTape.any_recording()


def _zeros_for(t: Tensor) -> Tensor:
    return _make(np.zeros_like(t.data))


class _Traced:
    """One run of ``f`` with the leaves of the chosen arguments as differentiable inputs."""

    __slots__ = ("out", "aux", "inputs", "defs", "create")

    def __init__(self, f: Callable, args: tuple, nums: tuple[int, ...],
                 has_aux: bool) -> None:
        args = list(args)
        fresh: set[int] = set()
        outer = False
        self.inputs: list[Tensor] = []
        self.defs: list[TreeDef] = []
        for i in nums:
            leaves, treedef = tree_flatten(args[i])
            new = []
            for leaf in leaves:
                t, is_fresh = _fresh_input(leaf)
                if is_fresh:
                    fresh.add(id(t))
                else:
                    outer = True
                new.append(t)
            args[i] = treedef.unflatten(new)
            self.inputs.extend(new)
            self.defs.append(treedef)
        saved = state.grad_enabled
        state.grad_enabled = True
        try:
            out = f(*args)
        finally:
            state.grad_enabled = saved
        self.aux = None
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise ValueError("has_aux=True needs f to return a pair (output, aux)")
            out, self.aux = out
        self.out = out
        roots = [t for t in tree_flatten(out)[0] if isinstance(t, Tensor) and t._rg]
        order = engine.toposort(roots)
        self.create = (outer or any(n._op is None and id(n) not in fresh for n in order)
                       or _tape_recording())

    def split(self, flat: Sequence[Any]) -> list[Any]:
        """Per chosen argument, its part of ``flat`` (one entry per input leaf) rebuilt."""
        return split_leaves(self.defs, flat)

    def cotangents(self, outs: list[Tensor], seeds: list[Any], create: bool) -> list[Tensor]:
        """d <seeds, outs> / d inputs, zeros for inputs that do not matter."""
        gs = engine.grad(outs, self.inputs, seeds, retain_graph=True, create_graph=create)
        return [_zeros_for(t) if g is None else g for g, t in zip(gs, self.inputs)]

    def value(self, x: Any) -> Any:
        """A result as returned: cut from the graph when nothing outside differentiates it."""
        if self.create:
            return x
        leaves, treedef = tree_flatten(x)
        return treedef.unflatten(_cut(t) for t in leaves)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable:
    """``f`` and its gradient with respect to argument(s) ``argnums``; ``f`` returns a scalar.

    Each argument may be a pytree (nested tuple/list/dict of arrays); its gradient has
    the same structure. ``argnums`` a tuple gives a tuple of gradients. With
    ``has_aux=True``, ``f`` returns ``(value, aux)`` and the result is
    ``((value, aux), gradient)`` (as ``jax.value_and_grad``).
    """

    def wrapped(*args: Any) -> tuple[Any, Any]:
        nums, single = _argnums(argnums, len(args))
        run = _Traced(f, args, nums, has_aux)
        out = run.out
        if not isinstance(out, Tensor):
            leaves, _ = tree_flatten(out)
            if len(leaves) != 1 or isinstance(out, (tuple, list, dict)):
                raise ValueError("grad needs f to return a scalar tensor, got "
                                 f"{type(out).__name__}; use jacobian or vjp for containers")
            out = _float_tensor(out)
        if out.data.size != 1:
            raise ValueError(f"grad needs f to return a scalar, got shape {out.shape}; use "
                             "jacobian or vjp for vector outputs")
        gs = run.split(run.cotangents([out], [None], run.create))
        value = run.value(out)
        if has_aux:
            value = (value, run.value(run.aux))
        return value, gs[0] if single else tuple(gs)

    return wrapped


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient function of a scalar ``f``: ``grad(f)(x)`` has ``x``'s shape (and
    structure, for a pytree ``x``). With ``has_aux=True`` it returns ``(gradient, aux)``.

    >>> grad(lambda x: x ** 3)(2.0)   # 3 * 2**2
    tensor(12.)
    """
    vg = value_and_grad(f, argnums, has_aux)

    def wrapped(*args: Any) -> Any:
        value, g = vg(*args)
        return (g, value[1]) if has_aux else g

    return wrapped


def vjp(f: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(f(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` returns one cotangent per primal.

    Primals, output and cotangent may be pytrees; ``vjp_fn`` takes a cotangent in the
    output's structure and returns a tuple of cotangents in the primals' structures. It is
    differentiable in its cotangent (by either mode). With ``has_aux=True``, ``f`` returns
    ``(output, aux)`` and the result is ``(output, vjp_fn, aux)``.
    """
    run = _Traced(f, primals, tuple(range(len(primals))), has_aux)
    out_leaves, out_def = tree_flatten(run.out)
    outs = [_float_tensor(o) for o in out_leaves]

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        ct_leaves, ct_def = tree_flatten(cotangent)
        if ct_def != out_def and not (len(ct_leaves) == len(outs) == 1):
            raise ValueError(f"vjp: cotangent structure {ct_def!r} does not match the output "
                             f"structure {out_def!r}")
        seeds = []
        for c, o in zip(ct_leaves, outs):
            ct = c if isinstance(c, Tensor) else Tensor(c)
            if ct.shape != o.shape:
                raise ValueError(f"vjp: cotangent of shape {ct.shape} does not match the "
                                 f"output shape {o.shape}")
            seeds.append(ops.cast(ct, o.dtype))
        create = run.create or _tape_recording() or any(s._rg for s in seeds)
        return tuple(run.split(run.cotangents(outs, seeds, create)))

    primal_out = run.value(run.out)
    if has_aux:
        return primal_out, vjp_fn, run.value(run.aux)
    return primal_out, vjp_fn


def _seeded_input(p: Any, t: Any, level: int) -> Tensor:
    """The primal ``p`` as seen inside a new forward level, with tangent ``t`` there."""
    x = _float_tensor(p)
    tv = t if isinstance(t, Tensor) else Tensor(t)
    if tv.shape != x.shape:
        raise ValueError(f"jvp: tangent of shape {tv.shape} does not match its primal's "
                         f"shape {x.shape}")
    if x._rg or has_visible_tangent(x):  # keep its reverse graph and outer tangents
        x = ops.PRIMITIVES["alias"](x)
    else:
        x = _make(x.data)
    x._tangent = {**(x._tangent or {}), level: ops.cast(tv, x.dtype)}
    return x


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> tuple:
    """``(f(*primals), J @ tangents)`` by forward mode: tangents ride along with the values.

    ``primals`` and ``tangents`` are sequences of the same structure (each entry an array
    or a pytree of them, matching shapes); the output tangent has the output's structure.
    ``jvp`` nests in ``jvp`` (and in ``grad``/``vjp``, and they in it) to any depth. With
    ``has_aux=True``, ``f`` returns ``(output, aux)`` and the result is
    ``(output, tangent, aux)``.
    """
    p_leaves, p_def = tree_flatten(tuple(primals))
    t_leaves, t_def = tree_flatten(tuple(tangents))
    if p_def != t_def:
        if len(tuple(primals)) != len(tuple(tangents)):
            raise ValueError(f"jvp: {len(tuple(primals))} primals but "
                             f"{len(tuple(tangents))} tangents")
        raise ValueError(f"jvp: tangents' structure {t_def!r} does not match the primals' "
                         f"{p_def!r}")
    level = next(_levels)
    xs = [_seeded_input(p, t, level) for p, t in zip(p_leaves, t_leaves)]
    with forward_level(level):
        out = f(*p_def.unflatten(xs))
    aux = None
    if has_aux:
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise ValueError("has_aux=True needs f to return a pair (output, aux)")
        out, aux = out
    o_leaves, o_def = tree_flatten(out)
    outs, tans = [], []
    for o in o_leaves:
        o = _float_tensor(o)
        tan = None if o._tangent is None else o._tangent.get(level)
        outs.append(o)
        tans.append(_zeros_for(o) if tan is None else tan)
    if has_aux:
        return o_def.unflatten(outs), o_def.unflatten(tans), aux
    return o_def.unflatten(outs), o_def.unflatten(tans)


def hvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """Hessian-vector product of a scalar ``f``: forward mode over the reverse-mode gradient.

    Returns H @ v (one result for one primal, else a tuple; pytrees in their structure),
    never forming H.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) == 1:
        return jvp(grad(f), primals, tangents)[1]
    return jvp(grad(f, tuple(range(len(primals)))), primals, tangents)[1]
