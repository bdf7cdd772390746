"""The rule table as data: one row per registered primitive, for docs and introspection.

>>> import chainrule.nn  # registers the fused kernels too
>>> rows = {r.name: r for r in rule_table()}
>>> rows["sin"].vjp, rows["matmul"].jvp
('g * d', 'op(.., t, ..)')

``docs/engine.md`` holds this table with the highest derivative order the test suite
checks for each primitive; ``experiments/primitive_table.py`` writes it and a test keeps
the two in step.
"""

from __future__ import annotations

from typing import NamedTuple

from .primitive import DEFINED_IN, PRIMITIVES, Joint, Primitive

__all__ = ["Row", "markdown", "rule_table"]

_RULES = {  # kind -> (how the vjp is made, how the jvp is made)
    "elementwise": ("g * d", "t * d"),
    "linear": ("transpose", "op(t)"),
    "multilinear": ("transposes", "op(.., t, ..)"),
}


class Row(NamedTuple):
    name: str
    kind: str
    vjp: str
    jvp: str
    fused: bool
    module: str


def _rules(p: Primitive) -> tuple[str, str]:
    if not p.differentiable:
        return "-", "-"
    if p.kind in _RULES:
        return _RULES[p.kind]
    vjp = "joint, by hand" if isinstance(p.vjps, Joint) else "by hand"
    jvps = p.jvps if isinstance(p.jvps, tuple) else (p.jvps,)
    jvp = "by hand" if any(j is not None for j in jvps) else "none"
    return vjp, jvp


def rule_table() -> list[Row]:
    """One :class:`Row` per primitive chainrule registers, sorted by module then name.
    ``fused`` marks the NN kernels (``chainrule.nn.kernels``): one primitive for what
    would otherwise be a chain of small ones."""
    rows = []
    for name, p in PRIMITIVES.items():
        module = DEFINED_IN.get(name, "")
        if not module.startswith("chainrule."):
            continue  # made by user code or a test, not by the library
        module = module.removeprefix("chainrule.")
        rows.append(Row(name, p.kind, *_rules(p), module.startswith("nn.kernels"), module))
    return sorted(rows, key=lambda r: (r.module, r.name))


def markdown(orders: dict[str, int] | None = None) -> str:
    """The table in Markdown; ``orders`` (name -> highest derivative order checked in both
    modes, 0 for a primitive whose rules raise by design) fills the last column."""
    orders = orders or {}
    lines = ["| primitive | defined in | rules | vjp | jvp | fused | order checked |",
             "|---|---|---|---|---|---|---|"]
    for r in rule_table():
        order = orders.get(r.name)
        checked = ("-" if r.kind == "non-differentiable" else "?" if order is None
                   else "raises" if order == 0 else str(order))
        lines.append(f"| `{r.name}` | {r.module} | {r.kind} | {r.vjp} | {r.jvp} | "
                     f"{'yes' if r.fused else ''} | {checked} |")
    return "\n".join(lines) + "\n"
