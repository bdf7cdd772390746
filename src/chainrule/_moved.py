"""Old import paths of modules that moved, kept working with a DeprecationWarning.

``MOVED`` maps an old dotted module name to the module that now holds its contents. A
finder on ``sys.meta_path`` answers ``import <old>`` with the new module itself (so both
names refer to one module object, and monkeypatching either affects both) and warns once.
Add a row here when a module moves; remove rows a release after announcing it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

MOVED: dict[str, str] = {
    "chainrule.charlm": "chainrule.models.charlm",
    "chainrule.cli_classic": "chainrule.cli.classic",
    "chainrule.cli_descent": "chainrule.cli.descent",
    "chainrule.cli_diff": "chainrule.cli.diff",
    "chainrule.cli_generate": "chainrule.cli.generate",
    "chainrule.train.cli_generative": "chainrule.cli._generative",
    "chainrule.train.cli_train": "chainrule.cli.train",
    "chainrule.classic.plots": "chainrule.viz.classic",
}


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in MOVED:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec: Any) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} has moved to {new}; the old name will be removed",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:  # already executed under its new name
        pass


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
