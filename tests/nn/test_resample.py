"""pad (all modes), interpolate, conv1d/conv2d padding options, padding_mode, conv3d:
gradchecks to second order and forward + backward against PyTorch."""

import numpy as np
import pytest
from torch_oracle import checks, compare

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

rng = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]


def r(*shape):
    return rng.standard_normal(shape)


# ----------------------------------------------------------------------------- pad

PADS = [  # (shape, pad, mode)
    ((2, 3, 4, 5), (1, 2, 0, 1), "constant"),
    ((2, 3, 4, 5), (-1, 2, 1, -2), "constant"),
    ((3, 4), (2, 0), "constant"),
    ((2, 3, 6), (2, 3), "reflect"),
    ((2, 3, 4, 5), (1, 2, 3, 0), "reflect"),
    ((2, 3, 4, 5), (1, 2, 2, 4), "replicate"),
    ((1, 2, 5), (4, 0), "replicate"),
    ((2, 3, 4, 5), (1, 3, 2, 4), "circular"),
    ((1, 2, 3, 3, 4), (1, 1, 2, 0, 1, 2), "replicate"),
    ((1, 2, 3, 3, 4), (1, 1, 2, 0, 1, 2), "circular"),
]


@pytest.mark.parametrize("shape,widths,mode", PADS)
def test_pad_gradchecks(shape, widths, mode):
    checks(lambda x: F.pad(x, widths, mode=mode) ** 2, [r(*shape)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,widths,mode", PADS)
def test_pad_matches_torch(shape, widths, mode, dtype):
    torch = pytest.importorskip("torch")
    compare(lambda x: F.pad(x, widths, mode=mode),
            lambda x: torch.nn.functional.pad(x, widths, mode=mode), [r(*shape)], dtype)


def test_pad_constant_value_and_errors():
    torch = pytest.importorskip("torch")
    x = r(2, 3)
    compare(lambda x: F.pad(x, (1, 1), value=2.5),
            lambda x: torch.nn.functional.pad(x, (1, 1), value=2.5), [x])
    with pytest.raises(ValueError, match="pad: mode"):
        F.pad(x, (1, 1), mode="wrap")
    with pytest.raises(ValueError, match="pad: pad"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="pad: reflect"):
        F.pad(r(1, 2, 3), (3, 0), mode="reflect")
    with pytest.raises(cr.ShapeError, match="pad: widths"):
        F.pad(x, (-2, -2))


# ----------------------------------------------------------------------------- interpolate

INTERP = [  # (shape, size, scale_factor, mode, align_corners)
    ((2, 3, 5), 8, None, "linear", False),
    ((2, 3, 5), 8, None, "linear", True),
    ((2, 3, 7), 3, None, "linear", False),
    ((2, 3, 7), 3, None, "linear", True),
    ((1, 2, 4, 5), (7, 3), None, "bilinear", False),
    ((1, 2, 4, 5), (7, 3), None, "bilinear", True),
    ((1, 2, 4, 5), None, 2, "bilinear", False),
    ((1, 2, 4, 5), None, (1.5, 0.7), "bilinear", False),
    ((1, 2, 4, 5), None, 2.5, "bilinear", True),
    ((1, 2, 1, 1), (3, 2), None, "bilinear", False),
    ((1, 2, 3, 1), (1, 4), None, "bilinear", True),
    ((2, 3, 5), 11, None, "nearest", None),
    ((2, 3, 5), None, 0.6, "nearest", None),
    ((1, 2, 4, 5), (7, 3), None, "nearest", None),
    ((1, 2, 4, 5), None, (2, 3), "nearest", None),
    ((1, 2, 4, 5), (7, 3), None, "nearest-exact", None),
    ((1, 1, 2, 3, 4), (3, 4, 2), None, "trilinear", False),
    ((1, 1, 2, 3, 4), None, 2, "nearest", None),
]


@pytest.mark.parametrize("shape,size,scale,mode,ac", INTERP)
def test_interpolate_gradchecks(shape, size, scale, mode, ac):
    checks(lambda x: F.interpolate(x, size, scale, mode, ac) ** 2, [r(*shape)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,size,scale,mode,ac", INTERP)
def test_interpolate_matches_torch(shape, size, scale, mode, ac, dtype):
    torch = pytest.importorskip("torch")
    compare(lambda x: F.interpolate(x, size, scale, mode, ac),
            lambda x: torch.nn.functional.interpolate(x, size, scale, mode, ac),
            [r(*shape)], dtype)


def test_interpolate_recompute_scale_factor_matches_torch():
    torch = pytest.importorskip("torch")
    compare(lambda x: F.interpolate(x, scale_factor=1.7, mode="bilinear",
                                    recompute_scale_factor=True),
            lambda x: torch.nn.functional.interpolate(x, scale_factor=1.7, mode="bilinear",
                                                      recompute_scale_factor=True),
            [r(1, 2, 5, 4)])


def test_interpolate_errors_name_op_and_argument():
    x = r(1, 2, 4, 5)
    with pytest.raises(ValueError, match="interpolate: mode"):
        F.interpolate(x, 3, mode="cubic")
    with pytest.raises(ValueError, match="interpolate: give exactly one of size"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="interpolate: align_corners"):
        F.interpolate(x, 3, mode="nearest", align_corners=True)
    with pytest.raises(cr.ShapeError, match="interpolate: mode 'linear'"):
        F.interpolate(x, 3, mode="linear")
    with pytest.raises(ValueError, match="interpolate: scale_factor"):
        F.interpolate(x, scale_factor=-1.0)
    with pytest.raises(ValueError, match="interpolate: size"):
        F.interpolate(x, (1, 2, 3))


# ----------------------------------------------------------------------------- conv padding


def test_conv2d_asymmetric_and_same_padding_match_pad_then_conv():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, w = r(2, 3, 6, 7), r(4, 3, 3, 2)
    compare(lambda x, w: F.conv2d(x, w, padding=((1, 0), (2, 1))),
            lambda x, w: tf.conv2d(tf.pad(x, (2, 1, 1, 0)), w), [x, w])
    compare(lambda x, w: F.conv2d(x, w, padding="same", dilation=2),
            lambda x, w: tf.conv2d(x, w, padding="same", dilation=2), [x, w])
    checks(lambda x, w: F.conv2d(x, w, padding=((0, 2), (1, 0))), [x[:1], w])


@pytest.mark.parametrize("padding", [0, 2, "same", "valid", ((2, 1),)])
def test_conv1d_padding_forms_match_torch(padding):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, w = r(2, 3, 9), r(4, 3, 4)
    if isinstance(padding, tuple):
        ref = lambda x, w: tf.conv1d(tf.pad(x, padding[0]), w)  # noqa: E731
    else:
        ref = lambda x, w: tf.conv1d(x, w, padding=padding)  # noqa: E731
    compare(lambda x, w: F.conv1d(x, w, padding=padding), ref, [x, w])


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_conv_layers_padding_mode_match_torch(mode, dims):
    torch = pytest.importorskip("torch")
    ours_cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
    theirs_cls = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[dims]
    ours = ours_cls(4, 6, 3, padding=1, padding_mode=mode, groups=2)
    theirs = theirs_cls(4, 6, 3, padding=1, padding_mode=mode, groups=2).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data.astype(np.float64)).reshape(
            theirs.weight.shape))
        theirs.bias.copy_(torch.tensor(r(6)))
    ours.weight.data = ours.weight.data.astype(np.float64)
    ours.bias.data = theirs.bias.detach().numpy().copy()
    x = r(2, 4, *(5,) * dims)
    y = ours(cr.tensor(x))
    np.testing.assert_allclose(y.data, theirs(torch.tensor(x)).detach().numpy(), atol=1e-10)
    assert f"padding_mode={mode!r}" in repr(ours) or mode == "zeros"


def test_conv_layer_padding_mode_same():
    torch = pytest.importorskip("torch")
    ours = nn.Conv2d(2, 3, (3, 4), padding="same", padding_mode="reflect")
    theirs = torch.nn.Conv2d(2, 3, (3, 4), padding="same", padding_mode="reflect").double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data.astype(np.float64)))
        theirs.bias.zero_()
    ours.weight.data = ours.weight.data.astype(np.float64)
    x = r(1, 2, 6, 7)
    np.testing.assert_allclose(ours(cr.tensor(x)).data,
                               theirs(torch.tensor(x)).detach().numpy(), atol=1e-10)
    with pytest.raises(ValueError, match="Conv2d: padding_mode"):
        nn.Conv2d(2, 3, 3, padding_mode="mirror")


# ----------------------------------------------------------------------------- conv3d

CONV3D = [  # (x shape, w shape, stride, padding, dilation, groups)
    ((2, 3, 4, 5, 5), (4, 3, 2, 3, 3), 1, 0, 1, 1),
    ((1, 4, 5, 6, 4), (6, 2, 3, 2, 3), (2, 1, 2), (1, 0, 1), 1, 2),
    ((1, 2, 5, 5, 5), (2, 1, 2, 2, 2), 1, 1, 2, 2),
    ((1, 2, 4, 3, 3), (3, 2, 1, 1, 1), 2, 0, 1, 1),
    ((1, 2, 4, 5, 3), (3, 2, 3, 2, 3), 1, "same", 1, 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", CONV3D)
def test_conv3d_matches_torch(cfg, dtype):
    torch = pytest.importorskip("torch")
    xs, ws, s, p, d, g = cfg
    compare(lambda x, w, b: F.conv3d(x, w, b, s, p, d, g),
            lambda x, w, b: torch.nn.functional.conv3d(x, w, b, s, p, d, g),
            [r(*xs), r(*ws), r(ws[0])], dtype)


@pytest.mark.parametrize("cfg", CONV3D[:3])
def test_conv3d_gradchecks(cfg):
    xs, ws, s, p, d, g = cfg
    xs = (1,) + xs[1:]
    checks(lambda x, w: F.conv3d(x, w, None, s, p, d, g), [r(*xs), r(*ws)])


def test_conv3d_errors():
    with pytest.raises(cr.ShapeError, match="conv3d: expected input"):
        F.conv3d(r(1, 2, 3, 3), r(1, 2, 1, 1, 1))
    with pytest.raises(cr.ShapeError, match="conv3d: input with 3 channels"):
        F.conv3d(r(1, 3, 3, 3, 3), r(2, 2, 1, 1, 1))
    with pytest.raises(ValueError, match="conv3d: stride"):
        F.conv3d(r(1, 2, 3, 3, 3), r(2, 2, 1, 1, 1), stride=0)
    with pytest.raises(cr.ShapeError, match="conv3d: kernel depth"):
        F.conv3d(r(1, 2, 2, 3, 3), r(2, 2, 3, 1, 1))
    with pytest.raises(ValueError, match="Conv3d: kernel_size"):
        nn.Conv3d(2, 2, (1, 2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,size", [((2, 3, 7), 3), ((1, 2, 5, 7), (2, 9)),
                                        ((1, 2, 4, 4), (4, 4))])
def test_interpolate_area_matches_torch(shape, size, dtype):
    torch = pytest.importorskip("torch")
    compare(lambda x: F.interpolate(x, size, mode="area"),
            lambda x: torch.nn.functional.interpolate(x, size, mode="area"), [r(*shape)], dtype)
    checks(lambda x: F.interpolate(x, size, mode="area") ** 2, [r(*shape)])


def test_padding_and_upsampling_layers_match_torch():
    torch = pytest.importorskip("torch")
    tn = torch.nn
    x1, x2, x3 = r(2, 3, 6), r(2, 3, 5, 6), r(1, 2, 4, 5, 6)
    pairs = [
        (nn.ConstantPad1d((1, 2), 3.5), tn.ConstantPad1d((1, 2), 3.5), x1),
        (nn.ZeroPad2d((1, 0, 2, 1)), tn.ZeroPad2d((1, 0, 2, 1)), x2),
        (nn.ReflectionPad1d(2), tn.ReflectionPad1d(2), x1),
        (nn.ReflectionPad2d((1, 2, 0, 3)), tn.ReflectionPad2d((1, 2, 0, 3)), x2),
        (nn.ReplicationPad2d(2), tn.ReplicationPad2d(2), x2),
        (nn.ReplicationPad3d(1), tn.ReplicationPad3d(1), x3),
        (nn.CircularPad2d((1, 2, 3, 0)), tn.CircularPad2d((1, 2, 3, 0)), x2),
        (nn.Upsample(scale_factor=2, mode="bilinear"),
         tn.Upsample(scale_factor=2, mode="bilinear"), x2),
        (nn.Upsample(size=9, mode="linear", align_corners=True),
         tn.Upsample(size=9, mode="linear", align_corners=True), x1),
        (nn.UpsamplingNearest2d(scale_factor=3), tn.UpsamplingNearest2d(scale_factor=3), x2),
        (nn.UpsamplingBilinear2d((7, 4)), tn.UpsamplingBilinear2d((7, 4)), x2),
    ]
    for ours, theirs, x in pairs:
        np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).numpy(), atol=1e-12,
                                   err_msg=repr(ours))
    with pytest.raises(ValueError, match="ReflectionPad2d: padding"):
        nn.ReflectionPad2d((1, 2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("s,p,op,g,d", [(1, 0, 0, 1, 1), (2, 1, 1, 2, 1), (3, 2, 0, 1, 2)])
def test_conv_transpose1d_matches_torch(s, p, op, g, d, dtype):
    torch = pytest.importorskip("torch")
    x, w, b = r(2, 4, 5), r(4, 3, 3), r(3 * g)
    compare(lambda x, w, b: F.conv_transpose1d(x, w, b, s, p, op, g, d),
            lambda x, w, b: torch.nn.functional.conv_transpose1d(x, w, b, s, p, op, g, d),
            [x, w, b], dtype)
    checks(lambda x, w: F.conv_transpose1d(x, w, None, s, p, op, g, d), [x[:1], w])
