"""chainrule: deep learning from first principles on NumPy.

Every way to differentiate (finite differences, dual numbers, symbolic graphs, reverse and
forward mode on tensors), neural networks built on it, and pictures of what happens.

>>> import chainrule as cr
>>> x = cr.tensor(3.0, requires_grad=True)
>>> y = x * x
>>> y.backward()
>>> x.grad
tensor(6.)
"""

from . import _moved

_moved.install()  # old module paths keep working, with a DeprecationWarning

from . import (  # noqa: E402
    _allocator,
    linalg,  # numpy.linalg over tensors, differentiable (issue 22)
    linear,  # linear regression by the normal equation and gradient descent
)
from .autograd import (  # noqa: E402
    GradcheckError,
    GradientTape,
    GraphReleasedError,
    ShapeError,
    Tensor,
    Variable,
    as_tensor,
    enable_grad,
    get_default_dtype,
    grad,
    gradcheck,
    gradgradcheck,
    hessian,
    hvp,
    is_grad_enabled,
    jacobian,
    jvp,
    no_grad,
    set_default_dtype,
    set_grad_enabled,
    tensor,
    value_and_grad,
    vjp,
)
from .autograd.ops import (  # noqa: E402
    abs,
    acos,
    add,
    argmax,
    argmin,
    asin,
    asinh,
    atan,
    broadcast_to,
    cast,
    cat,
    clip,
    concatenate,
    cos,
    cosh,
    div,
    einsum,
    elu,
    equal,
    erf,
    exp,
    expand,
    expm1,
    flatten,
    flip,
    gelu,
    getitem,
    greater,
    greater_equal,
    leaky_relu,
    less,
    less_equal,
    log,
    log1p,
    log_sigmoid,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    norm,
    not_equal,
    ones,
    ones_like,
    pad,
    permute,
    pow,
    prod,
    relu,
    reshape,
    scatter_add,
    selu,
    sigmoid,
    sign,
    silu,
    sin,
    sinh,
    softmax,
    softmax_cross_entropy,
    softplus,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    stop_gradient,
    sub,
    sum,
    sum_to,
    swapaxes,
    tan,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
    zeros,
    zeros_like,
)

# isort: split
from .autograd.ops import (  # noqa: E402  (elementwise ops of issues 22 and 23)
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    atan2,
    atanh,
    ceil,
    copysign,
    deg2rad,
    degrees,
    exp2,
    fix,
    floor,
    floor_divide,
    fmax,
    fmin,
    fmod,
    hypot,
    isclose,
    isfinite,
    isinf,
    isnan,
    lerp,
    log2,
    log10,
    logaddexp,
    logaddexp2,
    mod,
    nan_to_num,
    rad2deg,
    radians,
    reciprocal,
    remainder,
    round,
    rsqrt,
    sinc,
    trunc,
)

# isort: split
from .autograd.ops import (  # noqa: E402  (indexing, scans, creation of issue 23)
    arange,
    cummax,
    cummin,
    cumprod,
    cumsum,
    eye,
    full,
    full_like,
    gather,
    index_select,
    linspace,
    logcumsumexp,
    masked_fill,
    masked_select,
    meshgrid,
    nonzero,
    one_hot,
    repeat_interleave,
    scatter_reduce,
    topk,
    tril,
    triu,
)
from .autograd.ops.selection import argsort, scatter, sort  # noqa: E402  (PyTorch's)

# isort: split
from .autograd.ops import (  # noqa: E402  (NumPy's array building, issue 22; not diff,
    append,  # which would hide the chainrule.diff package: use chainrule.numpy.diff)
    array_split,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    c_,
    column_stack,
    cross,
    diag,
    diagonal,
    dot,
    dsplit,
    dstack,
    hsplit,
    hstack,
    inner,
    kron,
    moveaxis,
    outer,
    r_,
    ravel,
    repeat,
    roll,
    rollaxis,
    row_stack,
    tensordot,
    tile,
    vsplit,
    vstack,
)

# isort: split
from .io import load, save  # noqa: E402
from .random import manual_seed  # noqa: E402

# isort: split
from .graph import Graph, compile, trace  # noqa: E402, A004  (issue 16: chainrule.graph)

# isort: split
from . import _threads  # noqa: E402  (issue 14: BLAS threads, see docs/guide.md)
from ._threads import get_num_threads, set_num_threads  # noqa: E402

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # save_model / load_model need the model registry; import it on first use so that
    # ``import chainrule`` stays light.
    if name in ("save_model", "load_model"):
        from .models import registry

        return getattr(registry, name)
    if name == "quantize":  # chainrule.quantize (issue 19): int8 models, needs nn
        from .quant import quantize

        return quantize
    if name == "onnx":  # chainrule.onnx.export (issue 16): needs nn, imported on first use
        import importlib

        return importlib.import_module(".onnx", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_allocator.configure_from_environment()  # keep freed buffers between steps (glibc only)
_threads.apply_default()  # NumPy's BLAS: 1 thread unless the user chose (CHAINRULE_NUM_THREADS)
