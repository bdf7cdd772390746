"""Containers of tensors (pytrees): nested tuples, lists and dicts, as JAX treats them.

A pytree is a leaf (a Tensor, an array, a number: anything else) or a tuple, list,
namedtuple or dict of pytrees; ``None`` is an empty container (it holds no leaf).
``tree_flatten`` gives the leaves in a fixed order (dicts in their key order) and a
``TreeDef`` that ``tree_unflatten`` rebuilds the same structure from; the function
transforms (``grad``, ``jvp``, ``vjp``, ...) and ``GradientTape`` differentiate every
leaf and return derivatives in the structure of what they were given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["TreeDef", "tree_flatten", "tree_leaves", "tree_map", "tree_structure",
           "split_leaves", "tree_unflatten"]


class TreeDef:
    """The shape of a pytree without its leaves."""

    __slots__ = ("kind", "meta", "children", "num_leaves")

    def __init__(self, kind: Any, meta: Any, children: tuple) -> None:
        self.kind = kind  # None for a leaf, "none" for None, else the container type
        self.meta = meta  # dict keys
        self.children = children
        self.num_leaves = 1 if kind is None else sum(c.num_leaves for c in children)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TreeDef) and self.kind == other.kind
                and self.meta == other.meta and self.children == other.children)

    def __hash__(self) -> int:
        return hash((self.kind, self.meta, self.children))

    def __repr__(self) -> str:
        if self.kind is None:
            return "*"
        if self.kind == "none":
            return "None"
        if issubclass(self.kind, dict):
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children)) + "}"
        inner = ", ".join(repr(c) for c in self.children)
        return f"[{inner}]" if issubclass(self.kind, list) else f"({inner})"

    def unflatten(self, leaves: Any) -> Any:
        it = iter(leaves)
        out = self._build(it)
        if next(it, _END) is not _END:
            raise ValueError(f"too many leaves for the structure {self!r}")
        return out

    def _build(self, it: Any) -> Any:
        if self.kind is None:
            leaf = next(it, _END)
            if leaf is _END:
                raise ValueError(f"too few leaves for the structure {self!r}")
            return leaf
        if self.kind == "none":
            return None
        parts = [c._build(it) for c in self.children]
        if issubclass(self.kind, dict):
            return self.kind(zip(self.meta, parts))
        if issubclass(self.kind, tuple) and hasattr(self.kind, "_fields"):  # namedtuple
            return self.kind(*parts)
        return self.kind(parts)


_END = object()
LEAF = TreeDef(None, None, ())


def is_container(x: Any) -> bool:
    return x is None or isinstance(x, (tuple, list, dict))


def tree_flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of ``tree`` (depth first) and its structure."""
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


def _flatten(x: Any, leaves: list[Any]) -> TreeDef:
    if x is None:
        return TreeDef("none", None, ())
    if isinstance(x, dict):
        keys = tuple(x)
        return TreeDef(type(x), keys, tuple(_flatten(x[k], leaves) for k in keys))
    if isinstance(x, (tuple, list)):
        return TreeDef(type(x), None, tuple(_flatten(e, leaves) for e in x))
    leaves.append(x)
    return LEAF


def tree_unflatten(treedef: TreeDef, leaves: Any) -> Any:
    """The pytree of structure ``treedef`` holding ``leaves`` in order."""
    return treedef.unflatten(leaves)


def split_leaves(defs: Sequence[TreeDef], flat: Sequence[Any]) -> list[Any]:
    """``flat`` cut into consecutive runs of ``defs[i].num_leaves`` leaves, each rebuilt."""
    parts, start = [], 0
    for treedef in defs:
        parts.append(treedef.unflatten(flat[start:start + treedef.num_leaves]))
        start += treedef.num_leaves
    if start != len(flat):
        raise ValueError(f"{len(flat)} leaves for structures holding {start}")
    return parts


def tree_leaves(tree: Any) -> list[Any]:
    return tree_flatten(tree)[0]


def tree_structure(tree: Any) -> TreeDef:
    return tree_flatten(tree)[1]


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """``f`` applied leaf by leaf; ``rest`` are trees of the same structure."""
    leaves, treedef = tree_flatten(tree)
    others = []
    for r in rest:
        lv, td = tree_flatten(r)
        if td != treedef:
            raise ValueError(f"tree_map: structures differ: {treedef!r} and {td!r}")
        others.append(lv)
    return treedef.unflatten(f(*xs) for xs in zip(leaves, *others))
