"""``Trainer(..., distributed=True)``: which class that builds (issue 18).

The data-parallel trainer is :class:`chainrule.distributed.DistributedTrainer`, a subclass
of :class:`~chainrule.train.Trainer` one layer beside it. ``train`` cannot import it (the
two modules would import each other), so ``chainrule.distributed`` registers it here when
it is imported -- as with Horovod's ``hvd.init()`` or PyTorch's ``init_process_group``, a
data-parallel script imports (and initialises) the distributed package first.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["data_parallel_class", "data_parallel_new", "register"]

_REGISTERED: list[type] = []


def register(cls: type) -> None:
    """Make ``cls`` what ``Trainer(..., distributed=True)`` builds."""
    _REGISTERED[:] = [cls]


def data_parallel_class(asked: Any) -> type:
    """The class ``asked(..., distributed=True)`` builds: the registered data-parallel
    trainer for ``Trainer`` itself (or ``asked`` if it is that class already)."""
    if not _REGISTERED:
        raise ImportError("Trainer(..., distributed=True) needs chainrule.distributed: "
                          "`import chainrule.distributed as dist; dist.init()` first "
                          "(MPI: pip install \"chainrule[mpi]\")")
    cls = _REGISTERED[0]
    if issubclass(asked, cls):
        return asked
    if asked in cls.__bases__:
        return cls
    raise TypeError(f"{asked.__name__}(..., distributed=True): only {cls.__bases__[0].__name__} "
                    f"itself has a data-parallel version ({cls.__name__})")


def data_parallel_new(init: Callable[..., None]) -> Callable[..., Any]:
    """``Trainer.__new__``: the data-parallel class for ``distributed=True``, else the class
    asked for; it carries ``init``'s signature, so ``help(Trainer)`` shows the arguments."""
    def __new__(cls: type, *args: Any, distributed: bool = False, **kwargs: Any) -> Any:
        return object.__new__(data_parallel_class(cls) if distributed else cls)

    __new__.__signature__ = inspect.signature(init)  # type: ignore[attr-defined]
    return __new__
