"""Module and Parameter, with the conventions PyTorch users know.

A ``Module`` holds ``Parameter``s, buffers (non-trainable state such as BatchNorm's
running statistics) and sub-modules, found automatically from attribute assignment.
``model(x)`` calls ``forward(x)``; ``train()``/``eval()`` switch modes for dropout and
batch norm; ``state_dict()``/``load_state_dict()`` move the numbers in and out.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..autograd.mode import no_grad
from ..autograd.tensor import Tensor, _to_array
from ..autograd.versions import mark_modified


class Parameter(Tensor):
    """A tensor that is a trainable weight of a module (``requires_grad=True``)."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        arr = _to_array(data)
        super().__init__(np.array(arr, copy=True), requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__()[len("tensor("):]


class Module:
    """Base class of every layer and model.

    Subclasses set parameters and sub-modules as attributes in ``__init__`` and implement
    ``forward``. Calling the module runs ``forward`` (and any output hooks).
    """

    _output_hooks: list[Callable[[Module, Any, Any], None]] = []

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---------------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"call Module.__init__() in {type(self).__name__}.__init__ "
                                 "before assigning attributes")
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: Any) -> None:
        """Non-trainable state saved in ``state_dict`` (e.g. running means)."""
        arr = None if value is None else np.asarray(value)
        object.__setattr__(self, name, arr)
        self._buffers[name] = arr

    def _set_buffer(self, name: str, value: np.ndarray) -> None:
        object.__setattr__(self, name, value)
        self._buffers[name] = value

    # ---------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        for hook in Module._output_hooks:
            hook(self, args, out)
        return out

    # ---------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        stack = [(prefix, self)]
        seen: set[int] = set()
        while stack:
            name, mod = stack.pop(0)
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            stack[0:0] = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items()]

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Each parameter once (shared parameters are listed under their first name)."""
        seen: set[int] = set()
        for mname, mod in self.named_modules(prefix):
            for pname, p in mod._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for mname, mod in self.named_modules():
            for bname, b in mod._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def num_parameters(self, trainable_only: bool = False) -> int:
        return int(sum(p.data.size for p in self.parameters()
                       if p.requires_grad or not trainable_only))

    # ---------------------------------------------------------------- modes and grads
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, flag: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad = flag
        return self

    def reset_states(self) -> None:
        """Forget the state carried between calls by every stateful layer inside
        (``stateful=True`` recurrent layers), as Keras's ``reset_states()``."""
        for m in self.modules():
            forget = getattr(m, "_forget_state", None)
            if forget is not None:
                forget()

    def apply(self, fn: Callable[[Module], None]) -> Module:
        for m in self.modules():
            fn(m)
        return self

    # ---------------------------------------------------------------- state
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Parameters and buffers by dotted name (the arrays themselves, not copies)."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = p.data
        for name, b in self.named_buffers():
            state[name] = b
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy values in place; names, shapes and dtypes must match (all listed if not).

        With ``strict=False`` missing and unexpected names are ignored; shapes and dtypes
        of the names present must still match.
        """
        from ..io import check_state_dict

        for mname, mod in self.named_modules():  # a layer may rename the keys of old files
            upgrade = getattr(mod, "_upgrade_state_dict", None)
            if upgrade is not None:
                state = upgrade(state, f"{mname}." if mname else "")
        own = self.state_dict()
        if strict:
            check_state_dict(own, state)
        else:
            check_state_dict({k: v for k, v in own.items() if k in state},
                             {k: v for k, v in state.items() if k in own})
        params = dict(self.named_parameters())
        for k, mine in own.items():
            if k in state:
                mine[...] = np.asarray(state[k])
                if k in params:  # a graph that saved the old weights must not backward
                    mark_modified(params[k], "load_state_dict")

    # ---------------------------------------------------------------- display
    def extra_repr(self) -> str:
        return ""

    def label(self) -> str:
        """One line naming the layer and its configuration, for messages."""
        return f"{type(self).__name__}({self.extra_repr()})"

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        if self._modules:
            for name, m in self._modules.items():
                sub = repr(m).replace("\n", "\n  ")
                lines.append(f"  ({name}): {sub}")
            return "\n".join(lines) + "\n)"
        return lines[0] + ")"

    def summary(self, input_shape: tuple[int, ...], batch_size: int = 1,
                dtype: Any = np.float32, print_fn: Callable[[str], None] | None = print
                ) -> ModelSummary:
        """Each layer's output shape and parameter count, Keras style.

        ``input_shape`` excludes the batch dimension. Returns the summary (its ``str`` is
        the printed table).
        """
        from .summary import summarize

        info = summarize(self, input_shape, batch_size, dtype)
        if print_fn is not None:
            print_fn(str(info))
        return info


ModelSummary = Any  # defined in summary.py; alias kept for type hints


@contextlib.contextmanager
def evaluating(*modules: Module) -> Iterator[None]:
    """Evaluation mode (``eval()``) without recording a graph, for inference inside a
    training loop; every submodule's own mode is restored afterwards."""
    saved = [(m, m.training) for module in modules for m in module.modules()]
    for module in modules:
        module.eval()
    try:
        with no_grad():
            yield
    finally:
        for m, mode in saved:
            object.__setattr__(m, "training", mode)
