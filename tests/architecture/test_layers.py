"""The import graph of ``src/chainrule`` keeps the layering of docs/architecture.md.

Read from the source with ``ast`` (nothing is imported), so a violation names the file and
line. Imports inside functions count too (a lazy upward import is still an upward
dependency), except those under ``if TYPE_CHECKING:`` and the deprecation shims listed in
``DEPRECATED_SHIMS``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "chainrule"

# Layer of each top-level part of the package. A module may import its own layer and any
# lower one. ``viz`` stands beside the stack (see VIZ_MAY_IMPORT); the leaves may use the
# engine and the toolkit but nothing in the library imports them except cli, viz and the
# package's own __init__.
BASE, ENGINE, TOOLKIT, TRAIN, MODELS, CLI = range(6)
LAYERS = {
    "errors": BASE, "random": BASE, "io": BASE, "_allocator": BASE, "_moved": BASE,
    "_threads": BASE,  # NumPy's BLAS thread count (issue 14)
    "autograd": ENGINE,
    "numpy": ENGINE,  # chainrule.numpy: NumPy's names over tensors (issue 22)
    "linalg": ENGINE,  # chainrule.linalg: engine-level API (issue 22)
    "graph": ENGINE,  # chainrule.graph: trace, compile, passes (issue 16)
    "nn": TOOLKIT, "optim": TOOLKIT, "data": TOOLKIT,
    "onnx": TOOLKIT,  # chainrule.onnx: export of traced graphs (issue 16)
    "quant": TOOLKIT,  # chainrule.quant: int8 quantization (issue 19)
    "train": TRAIN,
    "distributed": TRAIN,  # chainrule.distributed: data parallelism over MPI (issue 18)
    "models": MODELS,
    "rl": MODELS,  # chainrule.rl: agents on nn/optim and Gymnasium (issue 17)
    "cli": CLI,
    "serve": CLI,  # chainrule.serve: the REST server over model directories (issue 19)
    "playground": CLI,  # chainrule.playground: the browser playground (issue 21)
}
LEAVES = {"diff", "linear", "classic"}
LEAVES |= {"linear_softmax"}  # softmax regression by BGD, NumPy only (issue 20)
LEAF_MAY_IMPORT = {"errors", "random", "io", "autograd", "nn", "optim", "data", "viz"}
VIZ_MAY_IMPORT = {"errors", "random", "io", "autograd", "nn", "optim", "data", "diff",
                  "linear", "graph"}
# Who may import a leaf (besides the leaf itself and chainrule/__init__.py).
LEAF_USERS = {"cli", "viz"}
LEAF_USERS |= {"playground"}  # its backprop view uses chainrule.diff (issue 21)

# Lazy imports kept only so that old names keep working for a release (each warns).
DEPRECATED_SHIMS: set[tuple[str, str]] = set()

# Import cycles allowed: the Tensor class and the rule table (and the engine its methods
# call) know each other by design; so do its in-place methods and version counters.
ALLOWED_CYCLE = {"chainrule.autograd.tensor", "chainrule.autograd.engine",
                 "chainrule.autograd.primitive", "chainrule.autograd.ops",
                 "chainrule.autograd.inplace", "chainrule.autograd.versions"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        keep = len(parts) - node.level + (1 if is_pkg else 0)
        base = ".".join(parts[:keep] + ([node.module] if node.module else []))
    # ``from pkg import sub`` may name submodules: keep both spellings, filtered later.
    return [base] + [f"{base}.{a.name}" for a in node.names]


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in ast.walk(node):
                if hasattr(child, "lineno"):
                    lines.add(child.lineno)
    return lines


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports() -> list[tuple[str, str, int, bool]]:
    """(importer, imported chainrule module, line, at module level) for every import."""
    modules = _modules()
    found = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_lines(tree)
        top_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = _resolve(name, _is_package(path), node)
            else:
                continue
            for target in targets:
                if target.startswith("chainrule") and target in modules:
                    found.append((name, target, node.lineno, id(node) in top_level))
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _allowed(importer: str, target: str, top_level: bool) -> bool:
    src, dst = _part(importer), _part(target)
    if src == "" or src == dst or dst == "":  # the package root, or within one part
        return True
    if dst in LEAVES:
        return src in LEAF_USERS
    if src in LEAVES:
        return dst in LEAF_MAY_IMPORT
    if src == "viz":
        return dst in VIZ_MAY_IMPORT or not top_level
    if dst == "viz":
        return LAYERS.get(src, BASE) > ENGINE or not top_level
    if src not in LAYERS or dst not in LAYERS:
        return False
    return LAYERS[dst] <= LAYERS[src]


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(m) for m in _modules()} - {""}
    unplaced = parts - set(LAYERS) - LEAVES - {"viz"}
    assert not unplaced, f"give these a layer in this test and in docs/architecture.md: " \
                         f"{sorted(unplaced)}"


def test_no_import_goes_up_a_layer():
    bad = [f"{imp} imports {dst} (line {line})"
           for imp, dst, line, top in _imports()
           if not _allowed(imp, dst, top) and (imp, dst) not in DEPRECATED_SHIMS]
    assert not bad, "imports against the layering:\n  " + "\n  ".join(sorted(set(bad)))


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    comps: list[set[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.add(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    comps.append(comp)
    return comps


def _collapse(module: str) -> str:
    """The rule table's modules count as one: ``autograd.ops``."""
    return "chainrule.autograd.ops" if module.startswith("chainrule.autograd.ops.") else module


def test_no_import_cycles_but_tensor_and_rule_table():
    edges: dict[str, set[str]] = {m: set() for m in map(_collapse, _modules())}
    for imp, dst, _, _ in _imports():
        a, b = _collapse(imp), _collapse(dst)
        # a package's __init__ importing its own submodules, and a submodule importing
        # its package for a sibling, is how packages are built: not a cycle of concerns.
        if a != b and not b.startswith(a + ".") and (imp, dst) not in DEPRECATED_SHIMS:
            edges[a].add(b)
    bad = [c for c in _cycles(edges) if not c <= ALLOWED_CYCLE]
    assert not bad, "import cycles:\n  " + "\n  ".join(" <-> ".join(sorted(c)) for c in bad)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(
    p.relative_to(PACKAGE)))
def test_no_module_is_too_long(path):
    assert len(path.read_text().splitlines()) <= 520, f"{path.name}: split it by concern"
