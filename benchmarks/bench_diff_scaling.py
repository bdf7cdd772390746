"""How the cost of a gradient grows with the number of inputs n (Hands-On ML, appendix D).

For f(x_1..x_n) = sum_i x_i * x_{i+1 mod n} (a sum of products, written on scalars so
every method sees the same function), time the full gradient by

* finite differences (``diff.numeric.gradients``: n + 1 evaluations of f),
* forward mode with dual numbers (``diff.dual.partials``: n passes),
* forward mode on tensors (``chainrule.jvp``, one pass per input: n passes),
* reverse mode on tensors (``chainrule.grad``: one forward and one backward pass),

and report each in "passes": its time divided by the time of ONE evaluation of f in that
method's own number type (floats, duals, tensors). The chapter's claim: the first three
need about n passes, reverse mode stays flat at a small constant.

    python benchmarks/bench_diff_scaling.py [--quick] [--plot PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import chainrule as cr  # noqa: E402
from chainrule.diff import dual, numeric  # noqa: E402


def f(*xs):
    n = len(xs)
    total = 0.0
    for i in range(n):
        total = total + xs[i] * xs[(i + 1) % n]
    return total


def timed(fn, budget: float = 0.2) -> float:
    """Best per-call time over repeated runs within about ``budget`` seconds."""
    best, spent, runs = float("inf"), 0.0, 0
    while spent < budget or runs < 3:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, spent, runs = min(best, dt), spent + dt, runs + 1
        if runs >= 50:
            break
    return best


def tensor_forward(xs: list[float]) -> list[float]:
    out = []
    for i in range(len(xs)):
        tangents = [0.0] * len(xs)
        tangents[i] = 1.0
        out.append(cr.jvp(f, xs, tangents)[1].item())
    return out


def one_pass(method: str, xs: list[float]):
    """A single evaluation of f in the number type the method works with."""
    if method == "numeric":
        return lambda: f(*xs)
    if method == "dual":
        return lambda: f(*[dual.Dual(x, 1.0 if i == 0 else 0.0) for i, x in enumerate(xs)])
    if method == "tensor_fwd":
        return lambda: cr.jvp(f, xs, [1.0] + [0.0] * (len(xs) - 1))
    return lambda: f(*[cr.tensor(x, requires_grad=True) for x in xs])


def run(ns: list[int], budget: float) -> list[dict]:
    rows = []
    for n in ns:
        xs = [float(i % 7) / 7 + 0.5 for i in range(n)]
        gradient = {
            "numeric": lambda xs=xs: numeric.gradients(f, xs),
            "dual": lambda xs=xs: dual.partials(f, *xs),
            "tensor_fwd": lambda xs=xs: tensor_forward(xs),
            "reverse": lambda xs=xs, n=n: cr.grad(f, tuple(range(n)))(*xs),
        }
        row: dict = {"n": n}
        for method, fn in gradient.items():
            if method == "tensor_fwd" and n > 300:  # n passes over n nodes: minutes
                continue
            row[method] = timed(fn, budget)
            row[method + "_pass"] = timed(one_pass(method, xs), budget)
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    methods = ["numeric", "dual", "tensor_fwd", "reverse"]
    print("cost of the full gradient: passes (= time / one evaluation of f in the method's "
          "own number type) and milliseconds")
    print(f"{'n':>6} " + " ".join(f"{m:>22}" for m in methods))
    for r in rows:
        cells = []
        for m in methods:
            if m in r:
                cells.append(f"{r[m] / r[m + '_pass']:>9.1f} passes {r[m] * 1e3:>8.2f}ms")
            else:
                cells.append(f"{'-':>22}")
        print(f"{r['n']:>6} " + " ".join(cells))


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    labels = {"numeric": "finite differences (n+1 evals)", "dual": "forward, dual numbers",
              "tensor_fwd": "forward, tensor jvp", "reverse": "reverse mode (tensor grad)"}
    for m, label in labels.items():
        pts = [(r["n"], r[m], r[m] / r[m + "_pass"]) for r in rows if m in r]
        if not pts:
            continue
        ns, secs, mult = zip(*pts)
        ax1.loglog(ns, secs, "o-", label=label)
        ax2.semilogx(ns, mult, "o-", label=label)
    ax1.set(xlabel="number of inputs n", ylabel="seconds per gradient",
            title="time per gradient")
    ax2.set(xlabel="number of inputs n", ylabel="passes (time / one evaluation of f)",
            title="cost in passes over f", yscale="log")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="n up to 100, short timings")
    p.add_argument("--plot", default="benchmarks/results/diff_scaling.png")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    ns = [1, 3, 10, 30, 100] if a.quick else [1, 3, 10, 30, 100, 300, 1000]
    rows = run(ns, 0.05 if a.quick else 0.3)
    print_table(rows)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))
    if a.plot:
        Path(a.plot).parent.mkdir(parents=True, exist_ok=True)
        try:
            plot(rows, a.plot)
        except ImportError:
            print("matplotlib is not installed: no plot (pip install chainrule[viz])")
    return 0


if __name__ == "__main__":
    sys.exit(main())
