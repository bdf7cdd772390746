"""Pictures of representation learning: image grids, reconstructions, 2-D codings (PCA /
t-SNE), latent interpolation (linear / slerp) and latent-space grids, all written headless
(Agg) and read back."""

import sys

import numpy as np
import pytest

from chainrule.viz import codings as C
from chainrule.viz import images as V

mpimg = pytest.importorskip("matplotlib.image")


def _read(path):
    assert path.exists() and path.stat().st_size > 0
    return mpimg.imread(path)


def _size(path):
    h, w = _read(path).shape[:2]
    return w, h


@pytest.fixture
def imgs():
    return np.random.default_rng(0).random((12, 8, 8))


# ----------------------------------------------------------------------------- image_grid


def test_image_grid_writes_a_png_and_more_columns_is_wider(tmp_path, imgs):
    narrow = V.image_grid(imgs, tmp_path / "narrow.png", ncols=3)
    wide = V.image_grid(imgs, tmp_path / "wide.png", ncols=6)
    assert narrow == tmp_path / "narrow.png"
    (w3, h3), (w6, h6) = _size(narrow), _size(wide)
    assert w6 > 1.7 * w3 and h3 > 1.7 * h6  # 3 x 4 tiles versus 6 x 2


def test_image_grid_layouts_draw_the_same_picture(tmp_path, imgs):
    ref = _read(V.image_grid(imgs, tmp_path / "ref.png", ncols=4))
    for i, batch in enumerate([imgs[:, None], imgs.reshape(12, 64),
                               imgs.astype(np.float32)]):
        np.testing.assert_array_equal(_read(V.image_grid(batch, tmp_path / f"{i}.png",
                                                         ncols=4)), ref)
    # non-square flat images with shape=
    wide = np.random.default_rng(1).random((4, 6 * 10))
    np.testing.assert_array_equal(
        _read(V.image_grid(wide, tmp_path / "a.png", shape=(6, 10))),
        _read(V.image_grid(wide.reshape(4, 6, 10), tmp_path / "b.png")))


def test_image_grid_colour_channels_first_and_last(tmp_path):
    rgb = np.random.default_rng(2).random((5, 3, 8, 8))
    first = _read(V.image_grid(rgb, tmp_path / "first.png"))
    last = _read(V.image_grid(rgb.transpose(0, 2, 3, 1), tmp_path / "last.png"))
    np.testing.assert_array_equal(first, last)
    assert not np.allclose(first[..., 0], first[..., 1])  # really in colour


def test_image_grid_accepts_a_tensor(tmp_path, imgs):
    from chainrule import tensor

    np.testing.assert_array_equal(_read(V.image_grid(tensor(imgs), tmp_path / "t.png")),
                                  _read(V.image_grid(imgs, tmp_path / "n.png")))


def test_value_range_scales_consistently(tmp_path, imgs):
    ref = _read(V.image_grid(imgs, tmp_path / "ref.png"))  # data in [0, 1]: shown as [0, 1]
    # tanh-like data in [-1, 1] drawn with value_range=(-1, 1) look the same
    tanh = _read(V.image_grid(2 * imgs - 1, tmp_path / "tanh.png", value_range=(-1, 1)))
    np.testing.assert_array_equal(tanh, ref)
    # outside [0, 1] the default is the grid's own min..max: a shift changes nothing
    np.testing.assert_array_equal(
        _read(V.image_grid(imgs + 5, tmp_path / "shift.png")),
        _read(V.image_grid(imgs + 7, tmp_path / "shift2.png")))
    # the default is one scale for the whole grid, not one per tile
    dim = imgs.copy()
    dim[0] *= 0.5
    assert not np.array_equal(_read(V.image_grid(dim, tmp_path / "dim.png")), ref)
    # "tile" scales each tile by its own min..max
    stretched = (imgs - imgs.min(axis=(1, 2), keepdims=True))
    stretched /= stretched.max(axis=(1, 2), keepdims=True)
    scaled = imgs * np.arange(1, 13)[:, None, None] - 3
    np.testing.assert_allclose(V._unit(scaled, "tile"), stretched, atol=1e-12)


def test_titles_and_title_add_height(tmp_path, imgs):
    plain = _size(V.image_grid(imgs, tmp_path / "p.png", ncols=6))
    titled = _size(V.image_grid(imgs, tmp_path / "t.png", ncols=6, title="twelve",
                                titles=[str(i) for i in range(12)]))
    assert titled[1] > plain[1]


@pytest.mark.parametrize("bad, match", [
    (np.zeros(64), "batch of images"),
    (np.zeros((2, 1, 3, 8, 8)), "batch of images"),
    (np.zeros((3, 50)), "not square"),
    (np.zeros((3, 2, 8, 8)), "1 or 3 channels"),
    (np.zeros((0, 8, 8)), "no images"),
    (np.full((2, 8, 8), np.nan), "NaN"),
])
def test_image_grid_refuses_bad_shapes(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        V.image_grid(bad, tmp_path / "x.png")


def test_image_grid_refuses_bad_arguments(tmp_path, imgs):
    with pytest.raises(ValueError, match="titles: 2 given for 12"):
        V.image_grid(imgs, tmp_path / "x.png", titles=["a", "b"])
    with pytest.raises(ValueError, match="ncols"):
        V.image_grid(imgs, tmp_path / "x.png", ncols=0)
    with pytest.raises(ValueError, match="lo < hi"):
        V.image_grid(imgs, tmp_path / "x.png", value_range=(1, 0))
    with pytest.raises(ValueError, match="value_range"):
        V.image_grid(imgs, tmp_path / "x.png", value_range="row")
    with pytest.raises(ValueError, match="shape="):
        V.image_grid(imgs.reshape(12, 64), tmp_path / "x.png", shape=(7, 9))
    with pytest.raises(ValueError, match="suffix"):
        V.image_grid(imgs, tmp_path / "x.nope")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_other_formats_by_suffix(tmp_path, imgs):
    out = V.image_grid(imgs[:2], tmp_path / "g.svg")
    assert out.read_text().lstrip().startswith("<?xml")


def test_missing_matplotlib_names_the_extra(tmp_path, imgs, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[viz\]'"):
        V.image_grid(imgs, tmp_path / "x.png")
    with pytest.raises(ImportError, match=r"chainrule\[viz\]"):
        V.plot_codings(np.zeros((4, 2)), [0, 1, 0, 1], tmp_path / "c.png")


def test_classic_image_grid_delegates(tmp_path, imgs, monkeypatch):
    from chainrule.viz.classic import image_grid as classic_grid

    flat = imgs.reshape(12, 64)
    labels = [str(i) for i in range(12)]
    old = _read(classic_grid(flat, tmp_path / "classic.png", shape=(8, 8), labels=labels,
                             ncols=5, title="t"))
    new = _read(V.image_grid(imgs, tmp_path / "viz.png", titles=labels, ncols=5, title="t"))
    np.testing.assert_array_equal(old, new)
    calls = []
    monkeypatch.setattr(V, "image_grid", lambda *a, **k: calls.append((a, k)) or a[1])
    classic_grid(np.zeros((2, 784)), tmp_path / "spy.png")
    assert calls and calls[0][0][0].shape == (2, 28, 28)


# ----------------------------------------------------------------------------- reconstructions


def test_reconstructions_one_row_per_model(tmp_path, imgs):
    rec = np.clip(imgs + 0.1, 0, 1)
    one = V.plot_reconstructions(imgs, rec, tmp_path / "one.png", n=6, title="AE")
    two = V.plot_reconstructions(imgs, {"AE": rec, "VAE": rec.reshape(12, 64)},
                                 tmp_path / "two.png", n=6)
    three = V.plot_reconstructions(imgs[:, None], [rec, rec, rec[:, None]],
                                   tmp_path / "three.png", n=6)
    (w1, h1), (w2, h2), (w3, h3) = _size(one), _size(two), _size(three)
    assert h1 < h2 < h3
    assert abs(w2 - w3) < 10  # same columns (row labels differ a little in width)
    wider = _size(V.plot_reconstructions(imgs, rec, tmp_path / "wide.png", n=12))
    assert wider[0] > 1.5 * w1
    # n larger than the batch: all of it
    assert _size(V.plot_reconstructions(imgs, rec, tmp_path / "all.png", n=50)) == wider


def test_reconstructions_share_one_scale(tmp_path, imgs):
    # originals at half the intensity of their reconstructions must look darker: both
    # rows are drawn on one scale (each row on its own min..max would look the same)
    pic = _read(V.plot_reconstructions(imgs * 0.5, imgs, tmp_path / "r.png", n=4))
    grey = pic[..., :3].mean(axis=-1)
    top, bottom = grey[: len(grey) // 2], grey[len(grey) // 2:]
    assert bottom.mean() > top.mean() + 0.1


def test_reconstructions_refuse_mismatches(tmp_path, imgs):
    with pytest.raises(ValueError, match="11 images for 12 originals"):
        V.plot_reconstructions(imgs, imgs[:11], tmp_path / "x.png")
    with pytest.raises(ValueError, match="differs from the originals"):
        V.plot_reconstructions(imgs, np.zeros((12, 9, 9)), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"reconstructions\['VAE'\]"):
        V.plot_reconstructions(imgs, {"AE": imgs, "VAE": imgs[:3]}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="no reconstructions"):
        V.plot_reconstructions(imgs, {}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="n must be"):
        V.plot_reconstructions(imgs, imgs, tmp_path / "x.png", n=0)


# ----------------------------------------------------------------------------- codings


def _blobs(n=90, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres = rng.normal(scale=6.0, size=(3, dim))
    return centres[labels] + rng.normal(size=(n, dim)), labels


def test_pca_matches_sklearn_up_to_sign():
    decomposition = pytest.importorskip("sklearn.decomposition")
    codes, _ = _blobs(dim=7)
    ours = V.reduce_to_2d(codes, method="pca")
    theirs = decomposition.PCA(n_components=2).fit_transform(codes)
    assert ours.shape == (90, 2)
    for k in range(2):
        sign = np.sign(ours[:, k] @ theirs[:, k])
        np.testing.assert_allclose(ours[:, k], sign * theirs[:, k], atol=1e-9)


def test_pca_is_deterministic_and_needs_no_sklearn(monkeypatch):
    codes, _ = _blobs()
    ref = V.reduce_to_2d(codes, method="pca")
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    np.testing.assert_array_equal(V.reduce_to_2d(codes, method="pca"), ref)
    # "auto" falls back to PCA without scikit-learn; "tsne" says what to install
    np.testing.assert_array_equal(V.reduce_to_2d(codes, method="auto"), ref)
    with pytest.raises(ImportError, match=r"pip install .chainrule\[tsne\]."):
        V.reduce_to_2d(codes, method="tsne")


def test_tsne_runs_on_a_small_set():
    pytest.importorskip("sklearn.manifold")
    codes, labels = _blobs(n=30, dim=60)  # D > 50: PCA to 50 first
    pts = V.reduce_to_2d(codes, method="tsne", seed=3)
    assert pts.shape == (30, 2) and np.isfinite(pts).all()
    np.testing.assert_array_equal(V.reduce_to_2d(codes, method="tsne", seed=3), pts)
    # well-separated blobs stay separated: each point's nearest neighbour shares its class
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(axis=1)] == labels).mean() > 0.9


def test_two_d_codes_are_kept_and_other_methods_checked():
    codes = np.random.default_rng(0).normal(size=(10, 2))
    np.testing.assert_array_equal(V.reduce_to_2d(codes), codes)  # auto, D == 2
    np.testing.assert_array_equal(V.reduce_to_2d(codes, "none"), codes)
    np.testing.assert_array_equal(V.reduce_to_2d(codes.reshape(10, 1, 2), "none"), codes)
    with pytest.raises(ValueError, match="method='none' needs 2-D"):
        V.reduce_to_2d(np.zeros((10, 3)), "none")
    with pytest.raises(ValueError, match="method must be"):
        V.reduce_to_2d(codes, "umap")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        V.reduce_to_2d(np.zeros((10, 1)))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        V.reduce_to_2d(np.zeros(10))


def test_plot_codings_writes_pngs(tmp_path):
    codes, labels = _blobs()
    names = ["zero", "one", "two"]
    for i, (c, lab, kw) in enumerate([
        (codes[:, :2], labels, dict(method="none", class_names=names, title="2-D")),
        (codes, labels, dict(method="pca", class_names={0: "a", 1: "b"})),
        (codes, labels.astype(float), dict(method="pca")),        # integral floats: classes
        (codes, np.array(names)[labels], dict(method="pca")),     # string labels
        (codes, np.linspace(0, 1, 90), dict(method="pca")),       # continuous: colour bar
        (codes, None, dict(method="pca")),
    ]):
        out = V.plot_codings(c, lab, tmp_path / f"c{i}.png", **kw)
        assert _read(out).shape[0] > 100


def test_plot_codings_subsamples_with_the_seed(tmp_path, monkeypatch):
    codes, labels = _blobs(n=90)
    seen = []
    real = C._reduce
    monkeypatch.setattr(C, "_reduce", lambda x, *a: seen.append(x) or real(x, *a))
    for seed in (0, 0, 1):
        V.plot_codings(codes, labels, tmp_path / "s.png", method="pca", max_points=20,
                       seed=seed)
    assert [len(x) for x in seen] == [20, 20, 20]
    np.testing.assert_array_equal(seen[0], seen[1])
    assert not np.array_equal(seen[0], seen[2])
    rows = {tuple(r) for r in codes}
    assert all(tuple(r) in rows for r in seen[0])


def test_plot_codings_refuses_mismatches(tmp_path):
    codes, labels = _blobs()
    with pytest.raises(ValueError, match="labels for 90 codes"):
        V.plot_codings(codes, labels[:80], tmp_path / "x.png")
    with pytest.raises(ValueError, match="method='none' needs 2-D"):
        V.plot_codings(codes, labels, tmp_path / "x.png", method="none")
    with pytest.raises(ValueError, match="method must be"):
        V.plot_codings(codes, labels, tmp_path / "x.png", method="isomap")


# ----------------------------------------------------------------------------- interpolation


@pytest.mark.parametrize("method", ["linear", "slerp"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolate_endpoints_are_exact(method, dtype):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=16).astype(dtype), rng.normal(size=16).astype(dtype)
    path = V.interpolate(a, b, steps=7, method=method)
    assert path.shape == (7, 16) and path.dtype == dtype
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)


def test_linear_is_evenly_spaced_on_the_segment():
    a, b = np.array([0.0, 2.0]), np.array([4.0, -2.0])
    np.testing.assert_allclose(V.interpolate(a, b, steps=5),
                               [[0, 2], [1, 1], [2, 0], [3, -1], [4, -2]])
    assert V.interpolate([1, 2], [3, 4], steps=2).dtype == np.float64  # ints -> float


def test_slerp_keeps_norms_and_turns_at_constant_speed():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=32), rng.normal(size=32)
    b *= np.linalg.norm(a) / np.linalg.norm(b)  # equal norms
    path = V.interpolate(a, b, steps=9, method="slerp")
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(a), rtol=1e-12)
    unit = path / np.linalg.norm(path, axis=1, keepdims=True)
    angles = np.arccos(np.clip((unit[:-1] * unit[1:]).sum(axis=1), -1, 1))
    np.testing.assert_allclose(angles, angles[0], rtol=1e-6)
    # the linear midpoint of two Gaussian samples is atypically short; slerp's is not
    assert np.linalg.norm(V.interpolate(a, b, 9)[4]) < 0.9 * np.linalg.norm(a)
    # unequal norms: each norm between the endpoints', changing monotonically
    norms = np.linalg.norm(V.interpolate(a, 3 * b, steps=9, method="slerp"), axis=1)
    assert np.all(np.diff(norms) > 0)


def test_slerp_degenerate_cases():
    a = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(V.interpolate(a, 2 * a, 3, "slerp"), [a, 1.5 * a, 2 * a])
    np.testing.assert_allclose(V.interpolate(0 * a, a, 3, "slerp"), [0 * a, a / 2, a])
    with pytest.raises(ValueError, match="opposite directions"):
        V.interpolate(a, -a, method="slerp")


def test_interpolate_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r"\(3,\) vs \(4,\)"):
        V.interpolate(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="steps"):
        V.interpolate(np.zeros(3), np.ones(3), steps=1)
    with pytest.raises(ValueError, match="method"):
        V.interpolate(np.zeros(3), np.ones(3), method="cubic")


def _decoder(calls):
    """A toy decoder: latents (M, 2) -> images (M, 8, 8) that change smoothly."""
    grid = np.linspace(0, np.pi, 8)

    def decode(z):
        calls.append(np.array(z))
        return np.sin(np.outer(grid, grid)[None] * z[:, :1, None] + z[:, 1:, None])
    return decode


def test_plot_interpolation_one_row_per_pair(tmp_path):
    calls = []
    rng = np.random.default_rng(0)
    pairs = [(rng.normal(size=2), rng.normal(size=2)) for _ in range(3)]
    three = V.plot_interpolation(_decoder(calls), pairs, tmp_path / "3.png", steps=6,
                                 method="slerp", title="slerp")
    assert len(calls) == 1 and calls[0].shape == (18, 2)
    np.testing.assert_array_equal(calls[0][:6], V.interpolate(*pairs[0], 6, "slerp"))
    np.testing.assert_array_equal(calls[0][-1], pairs[2][1])
    one = V.plot_interpolation(_decoder(calls), np.array(pairs[:1]), tmp_path / "1.png",
                               steps=6)
    (w3, h3), (w1, h1) = _size(three), _size(one)
    assert abs(w3 - w1) <= 2 and h3 > 2 * h1 - 40


def test_plot_interpolation_refuses_bad_decoders_and_pairs(tmp_path):
    pairs = [(np.zeros(2), np.ones(2))]
    with pytest.raises(ValueError, match="decode returned 3 images for 8 latent points"):
        V.plot_interpolation(lambda z: np.zeros((3, 8, 8)), pairs, tmp_path / "x.png")
    with pytest.raises(ValueError, match="pairs"):
        V.plot_interpolation(lambda z: z, [(np.zeros(2),)], tmp_path / "x.png")
    with pytest.raises(ValueError, match="no latent pairs"):
        V.plot_interpolation(lambda z: z, [], tmp_path / "x.png")


# ----------------------------------------------------------------------------- latent grid


def test_latent_grid_uses_gaussian_quantiles_row_major():
    z = V.latent_grid(n=5)
    assert z.shape == (25, 2) and z.dtype == np.float32
    q = 1.6448536269514722  # the standard normal's 95 % quantile
    np.testing.assert_allclose(z[0], [-q, q], rtol=1e-6)    # top left
    np.testing.assert_allclose(z[4], [q, q], rtol=1e-6)     # top right
    np.testing.assert_allclose(z[20], [-q, -q], rtol=1e-6)  # bottom left
    np.testing.assert_allclose(z[12], [0, 0], atol=1e-7)    # centre
    stats = pytest.importorskip("scipy.stats")
    np.testing.assert_allclose(z[:5, 0], stats.norm.ppf(np.linspace(0.05, 0.95, 5)),
                               rtol=1e-6)


def test_latent_grid_span_and_more_dimensions():
    z = V.latent_grid(n=3, span=2.0, latent_dim=4, dims=(3, 1))
    assert z.shape == (9, 4)
    np.testing.assert_array_equal(z[:3, 3], [-2, 0, 2])
    np.testing.assert_array_equal(z[::3, 1], [2, 0, -2])
    assert not z[:, [0, 2]].any()
    with pytest.raises(ValueError, match="dims"):
        V.latent_grid(dims=(0, 0))
    with pytest.raises(ValueError, match="dims"):
        V.latent_grid(dims=(0, 2))
    with pytest.raises(ValueError, match="span"):
        V.latent_grid(span=0.0)


def test_plot_latent_grid_writes_a_square_picture(tmp_path):
    calls = []
    small = _size(V.plot_latent_grid(_decoder(calls), tmp_path / "s.png", n=4))
    big = _size(V.plot_latent_grid(_decoder(calls), tmp_path / "b.png", n=8, title="VAE"))
    assert [c.shape for c in calls] == [(16, 2), (64, 2)]
    assert big[0] > 1.6 * small[0] and big[1] > 1.6 * small[1]
    assert abs(big[0] - big[1]) < 0.15 * big[0]
    with pytest.raises(ValueError, match="decode returned"):
        V.plot_latent_grid(lambda z: np.zeros((2, 8, 8)), tmp_path / "x.png", n=4)
