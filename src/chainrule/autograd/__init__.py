"""The tensor autodiff engine: reverse and forward mode, any order, and a GradientTape."""

from ..errors import ShapeError
from . import ops
from .check import GradcheckError, gradcheck, gradgradcheck
from .engine import GraphReleasedError
from .functional import grad, hvp, jvp, value_and_grad, vjp
from .jacobians import hessian, jacobian
from .mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tape import GradientTape, Variable
from .tensor import Tensor, as_tensor, get_default_dtype, set_default_dtype, tensor

__all__ = [
    "GradcheckError", "GradientTape", "GraphReleasedError", "ShapeError", "Tensor", "Variable",
    "as_tensor", "enable_grad", "get_default_dtype", "grad", "gradcheck", "gradgradcheck",
    "hessian", "hvp", "is_grad_enabled", "jacobian", "jvp", "no_grad", "ops",
    "set_default_dtype", "set_grad_enabled", "tensor", "value_and_grad", "vjp",
]
