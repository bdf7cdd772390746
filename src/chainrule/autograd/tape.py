"""GradientTape and Variable with TensorFlow's semantics, on top of the same engine.

A ``Variable`` is a trainable tensor that is watched automatically. Inside
``with GradientTape() as tape:`` operations on watched tensors are recorded;
``tape.gradient(target, sources)`` then returns d(sum of target)/d(source) for each source
— ``None`` for a source the target does not depend on (or zeros with
``unconnected_gradients="zero"``). A tape is used once unless ``persistent=True``.
Calling ``gradient`` while another tape is recording records the gradient computation
too, so nested tapes give second derivatives.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import engine, ops
from .mode import state
from .pytree import tree_flatten
from .tensor import Tensor, _make, _to_array, get_default_dtype
from .versions import mark_modified


class Variable(Tensor):
    """A mutable, trainable tensor (``tf.Variable``): watched by every tape automatically."""

    __slots__ = ("trainable",)

    def __init__(self, initial_value: Any, trainable: bool = True, name: str | None = None,
                 dtype: Any = None) -> None:
        data = _to_array(initial_value, dtype)
        if data.dtype.kind not in "fc" and trainable:
            data = data.astype(get_default_dtype())
        super().__init__(np.array(data), requires_grad=trainable, name=name)
        self.trainable = trainable

    def assign(self, value: Any) -> Variable:
        """Replace the value in place (same shape), outside any graph."""
        new = _to_array(value)
        if new.shape != self.data.shape:
            raise ValueError(f"assign: value of shape {new.shape} does not match the "
                             f"variable's shape {self.data.shape}")
        self.data[...] = new
        mark_modified(self, "assign")
        return self

    def assign_add(self, delta: Any) -> Variable:
        return self.assign(self.data + _to_array(delta))

    def assign_sub(self, delta: Any) -> Variable:
        return self.assign(self.data - _to_array(delta))

    def __repr__(self) -> str:
        return f"<Variable{'' if self.name is None else ' ' + repr(self.name)} " \
               f"shape={self.shape} dtype={self.dtype} numpy={self.data!r}>"


def _flatten(structure: Any) -> tuple[list[Any], Any]:
    """Leaves of a pytree (nested list/tuple/dict) of tensors, and a function to rebuild it."""
    leaves, treedef = tree_flatten(structure)
    return leaves, treedef.unflatten


class GradientTape:
    """Record operations for automatic differentiation (``tf.GradientTape``).

    >>> x, y = Variable(3.0), Variable(4.0)
    >>> with GradientTape() as tape:
    ...     f = x * x * y + y + 2
    >>> [g.item() for g in tape.gradient(f, [x, y])]
    [24.0, 10.0]
    """

    _active: list[GradientTape] = []

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True) -> None:
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._watched: list[Tensor] = []
        self._used = False
        self._saved_mode = True

    @classmethod
    def any_recording(cls) -> bool:
        """Is some tape's ``with`` block open (so gradients must stay differentiable)?"""
        return bool(cls._active)

    def __enter__(self) -> GradientTape:
        self._saved_mode = state.grad_enabled
        state.grad_enabled = True
        GradientTape._active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        GradientTape._active.remove(self)
        state.grad_enabled = self._saved_mode

    def watch(self, tensor: Any) -> None:
        """Record operations on ``tensor`` (or each tensor of a nested structure)."""
        for t in _flatten(tensor)[0]:
            if not isinstance(t, Tensor):
                raise TypeError(f"watch() takes tensors, got {type(t).__name__}")
            if t.dtype.kind not in "fc":
                raise TypeError(f"watch(): only floating-point tensors can be watched, "
                                f"got {t.dtype}")
            if not t._rg:
                t._rg = True
            self._watched.append(t)

    def watched_variables(self) -> list[Tensor]:
        return list(self._watched)

    def stop_recording(self) -> Any:
        """``with tape.stop_recording():`` computes without recording."""
        from .mode import no_grad

        return no_grad()

    def reset(self) -> None:
        self._watched.clear()
        self._used = False

    def _check_use(self) -> None:
        if self._used and not self.persistent:
            raise RuntimeError("a non-persistent GradientTape can compute gradients only once; "
                               "use GradientTape(persistent=True) to call gradient() again")
        self._used = True

    def gradient(self, target: Any, sources: Any, output_gradients: Any = None,
                 unconnected_gradients: str = "none") -> Any:
        """d target / d sources, in the structure of ``sources``.

        A non-scalar target is summed (or weighted by ``output_gradients``).
        ``unconnected_gradients``: "none" gives None for a source the target does not
        reach, "zero" gives zeros.
        """
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError("unconnected_gradients must be 'none' or 'zero', got "
                             f"{unconnected_gradients!r}")
        self._check_use()
        targets, _ = _flatten(target)
        targets = [t if isinstance(t, Tensor) else Tensor(t) for t in targets]
        srcs, rebuild = _flatten(sources)
        for s in srcs:
            if not isinstance(s, Tensor):
                raise TypeError(f"gradient(): sources must be tensors/Variables, got "
                                f"{type(s).__name__}")
        if output_gradients is None:
            seeds = [np.ones_like(t.data) for t in targets]
        elif isinstance(target, Tensor):
            seeds = [_to_array(output_gradients)]
        else:
            seeds = [_to_array(o) for o in _flatten(output_gradients)[0]]
        create = GradientTape.any_recording()
        grads = engine.grad(targets, srcs, seeds, retain_graph=True if self.persistent
                            or create else False, create_graph=create)
        if unconnected_gradients == "zero":
            grads = [_make(np.zeros_like(s.data)) if g is None else g
                     for g, s in zip(grads, srcs)]
        return rebuild(grads)

    def jacobian(self, target: Tensor, sources: Any,
                 unconnected_gradients: str = "none") -> Any:
        """Full Jacobian, shape ``target.shape + source.shape`` for each source (a tensor or
        a pytree of them, answered in its structure), one vjp per target element. A source
        the target does not reach gives None (zeros with ``unconnected_gradients="zero"``).
        """
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError("unconnected_gradients must be 'none' or 'zero', got "
                             f"{unconnected_gradients!r}")
        self._check_use()
        create = GradientTape.any_recording()
        srcs, rebuild = _flatten(sources)
        rows: list[list[Tensor]] = [[] for _ in srcs]
        for k in range(target.data.size):
            seed = np.zeros(target.data.size, dtype=target.dtype)
            seed[k] = 1
            gs = engine.grad([target], srcs, [seed.reshape(target.shape)],
                             retain_graph=True, create_graph=create)
            for j, (g, s) in enumerate(zip(gs, srcs)):
                rows[j].append(_make(np.zeros_like(s.data)) if g is None else g)
        jacs: list[Tensor | None] = []
        for r, s in zip(rows, srcs):
            if unconnected_gradients == "none" and not _reaches(target, s):
                jacs.append(None)
            elif not r:
                jacs.append(_make(np.zeros(target.shape + s.shape, dtype=s.dtype)))
            else:
                jacs.append(ops.reshape(ops.stack(r), target.shape + s.shape))
        return rebuild(jacs)


def _reaches(target: Tensor, source: Tensor) -> bool:
    return target._rg and any(n is source for n in engine.toposort([target]))
