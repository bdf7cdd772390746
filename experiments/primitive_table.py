"""Write docs/engine.md's table of every primitive (issue 22).

    python experiments/primitive_table.py            # rewrite the table in docs/engine.md
    python experiments/primitive_table.py --print    # print it instead

The rows come from the registry (``chainrule.autograd.rule_table``); the column "order
checked" comes from the test suite's coverage map (``COVERAGE`` in
tests/autograd/test_rules.py), so the table says what the tests check, no more.
``tests/autograd/test_rules.py::test_engine_doc_lists_every_primitive`` fails when the
table is out of date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- primitive table: written by experiments/primitive_table.py -->\n"
END = "<!-- end of primitive table -->\n"


def table() -> str:
    import chainrule.linalg  # noqa: F401  (registers the primitives of every package)
    import chainrule.nn  # noqa: F401
    import chainrule.numpy  # noqa: F401
    import chainrule.quant  # noqa: F401  (fake_quantize, dequantize)
    from chainrule.autograd.rule_table import markdown

    sys.path[:0] = [str(ROOT / "tests" / "autograd"), str(ROOT / "tests")]  # + gradchecks.py
    import test_rules  # the coverage map the tests check

    return markdown(test_rules.COVERAGE)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--print", action="store_true", help="print the table, write nothing")
    args = p.parse_args()
    text = table()
    if args.print:
        print(text, end="")
        return
    doc = ROOT / "docs" / "engine.md"
    old = doc.read_text()
    if BEGIN not in old:
        raise SystemExit(f"{doc}: no line {BEGIN.strip()!r} to put the table after")
    head, rest = old.split(BEGIN, 1)
    tail = rest.split(END, 1)[1] if END in rest else rest
    doc.write_text(head + BEGIN + text + END + tail)
    print(f"wrote {text.count(chr(10)) - 2} rows to {doc}")


if __name__ == "__main__":
    main()
