"""Forward-mode differentiation with dual numbers ``a + b*ε`` (where ``ε**2 = 0``).

Evaluating ``f(Dual(x, 1))`` yields ``Dual(f(x), f'(x))``: every operation carries its value
(``real``) and its derivative along one seed direction (``eps``), as in *Hands-On ML*
appendix D. ``partials`` does one forward pass per input (the textbook's cost); ``gradient`` and
``jacobian`` push *all* seed directions through ONE pass by letting ``eps`` hold arrays.

Shape convention
----------------
``real`` is a float or an ndarray. ``eps`` is either a float (broadcast everywhere) or an
array of shape ``batch + real.shape``: the leading ``batch`` axes (zero or more) index seed
directions, the trailing axes match ``real``. ``Dual(x, v)`` with ``v.shape == x.shape`` is a
single directional derivative (a Jacobian-vector product); ``Dual(x, eye)`` with
``eye.shape == (n,) + x.shape`` pushes ``n`` directions at once. Operations keep the batch axes
leading, so ``eps[k]`` is always the derivative along seed ``k``.

Elementary functions (:func:`exp`, :func:`log`, ... :func:`pow`) accept Duals, plain numbers
and NumPy arrays; NumPy ufuncs (``np.exp(d)``, ``array * d``) dispatch to them too.
Conventions: ``relu'(0) = 0``, ``|x|'(0) = 0``. Out-of-domain input (division by a zero real
part, ``log`` of a non-positive number, ``sqrt`` of a Dual with non-positive real part, whose
derivative is infinite) raises :class:`~chainrule.diff.errors.DiffError`; never a NaN.
"""

from . import drivers, number
from .drivers import derivative, gradient, jacobian, partials
from .number import (
    Dual,
    _as_real,  # noqa: F401  (used by chainrule.diff.symbolic)
    abs,
    cos,
    exp,
    log,
    pow,
    relu,
    sigmoid,
    sin,
    sqrt,
    tan,
    tanh,
)

__all__ = sorted(number.__all__ + drivers.__all__)
