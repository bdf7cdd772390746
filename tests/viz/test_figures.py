"""The one matplotlib helper: no picture of the library touches matplotlib's global state
(backend, pyplot figures), and a missing matplotlib is one line naming the extra."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import chainrule
from chainrule.optim import LRFinderResult
from chainrule.viz import classic, codings, curves, descent, figures, images

SRC = Path(chainrule.__file__).parent

# Draws every kind of matplotlib figure the library makes, with a non-Agg backend chosen
# first, and checks the backend is still that one and pyplot was never brought in.
_EVERY_FIGURE = """
import sys
import matplotlib
matplotlib.use("svg")
import numpy as np
import chainrule
from chainrule.optim import LRFinderResult
from chainrule.train import plot_history
from chainrule.viz import classic, descent, images

out = sys.argv[1]
rng = np.random.default_rng(0)
imgs = rng.random((6, 8, 8))
images.image_grid(imgs, f"{out}/grid.png")
images.plot_reconstructions(imgs, imgs[::-1], f"{out}/rec.png")
images.plot_codings(rng.normal(size=(30, 4)), np.arange(30) % 3, f"{out}/codes.png",
                    method="pca")
images.plot_interpolation(lambda z: np.tile(z[:, :1], (1, 64)), [(np.zeros(2), np.ones(2))],
                          f"{out}/interp.png", steps=4)
images.plot_latent_grid(lambda z: np.tile(z[:, :1], (1, 64)), f"{out}/latent.png", n=3)
plot_history({"loss": [1.0, 0.5], "val_loss": [1.2, 0.7]}, f"{out}/curves")
LRFinderResult([1e-3, 1e-2, 1e-1], [1.0, 0.5, 2.0], suggested_lr=1e-2).plot(
    path=f"{out}/lr.png")
descent.plot_descent_paths(path=f"{out}/book.png", figsize=(6, 2.5), dpi=30)
descent.plot_optimizer_paths("quadratic", ["sgd", "adam"], steps=5, path=f"{out}/opt.png",
                             gif=f"{out}/opt.gif", figsize=(6, 2.5), dpi=30, gif_frames=2,
                             gif_dpi=20)
classic.image_grid(rng.random((4, 64)), f"{out}/classic_grid.png", shape=(8, 8))
classic.plot_capacity({10: {"load": np.array([0.1, 0.2]), "success": np.array([1.0, 0.5])}},
                      f"{out}/capacity.png")
classic.plot_trajectory([rng.random((3, 64))], f"{out}/traj.png", shape=(8, 8))
classic.plot_distribution({(0, 1): 0.5, (1, 0): 0.5}, {(0, 1): 0.4, (1, 1): 0.6},
                          f"{out}/dist.png")
classic.plot_som(rng.random((3, 4, 3)), rng.random((3, 4)), f"{out}/som.png")
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert "matplotlib.pyplot" not in sys.modules, "a picture imported pyplot"
import matplotlib.pyplot as plt
assert plt.get_fignums() == [], plt.get_fignums()
print("ok")
"""

_WRITTEN = ["grid.png", "rec.png", "codes.png", "interp.png", "latent.png", "curves.png",
            "lr.png", "book.png", "opt.png", "opt.gif", "classic_grid.png", "capacity.png",
            "traj.png", "dist.png", "som.png"]


def test_drawing_leaves_the_backend_and_pyplot_alone(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("PIL")
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(_EVERY_FIGURE), str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
    for name in _WRITTEN:
        assert (tmp_path / name).stat().st_size > 0, name
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def _imports(path: Path) -> set[str]:
    """Modules and names imported absolutely by ``path``, and ``"<call>.use"`` for any
    call ``<something>.use(...)`` on a name bound to matplotlib."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == "use" and isinstance(node.func.value, ast.Name) and \
                node.func.value.id in ("matplotlib", "mpl"):
            names.add("matplotlib.use()")
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_only_viz_imports_matplotlib_and_nothing_imports_pyplot():
    for path in SRC.rglob("*.py"):
        found = {n for n in _imports(path) if n.split(".")[0] == "matplotlib"}
        rel = path.relative_to(SRC).as_posix()
        assert not any(n.startswith("matplotlib.pyplot") for n in found), rel
        assert "matplotlib.use()" not in found, rel
        if found:
            assert rel.startswith("viz/"), (rel, found)


def _raises_one_line(call):
    with pytest.raises(ImportError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message
    assert message.endswith("needs matplotlib: pip install 'chainrule[viz]' "
                            "(or pip install matplotlib)"), message
    return message


def test_missing_matplotlib_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    imgs = np.zeros((2, 4, 4))
    lr = LRFinderResult([1e-3, 1e-2], [1.0, 0.5])
    calls = {
        "drawing": lambda: figures.new_figure((2, 2)),
        "image_grid": lambda: images.image_grid(imgs, tmp_path / "g.png"),
        "plot_codings": lambda: codings.plot_codings(np.zeros((4, 2)), None,
                                                     tmp_path / "c.png"),
        "plot_history (PNG)": lambda: curves.plot_history({"loss": [1.0]}, tmp_path / "h",
                                                          backend="png"),
        "plot_lr_finder": lr.plot,
        "drawing descent paths": descent.plot_descent_paths,
        "plot_capacity": lambda: classic.plot_capacity({}, tmp_path / "cap.png"),
        "plot_som": lambda: classic.plot_som(np.zeros((2, 2, 3)), np.zeros((2, 2)),
                                             tmp_path / "som.png"),
    }
    for what, call in calls.items():
        assert _raises_one_line(call).startswith(f"{what} needs matplotlib"), what
    assert not list(tmp_path.iterdir())  # nothing written


def test_save_figure_is_atomic_and_format_follows_the_suffix(tmp_path):
    pytest.importorskip("matplotlib")
    fig = figures.new_figure((2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    out = figures.save_figure(fig, tmp_path / "sub" / "f.svg")
    assert out == tmp_path / "sub" / "f.svg" and out.read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match="cannot tell the image format"):
        figures.save_figure(fig, tmp_path / "f.bmpx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]
