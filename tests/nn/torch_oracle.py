"""Forward and backward of a chainrule function against its PyTorch twin (test helper)."""

import numpy as np

import chainrule as cr


def compare(ours, theirs, arrays, dtype=np.float64, grad=None, rtol=None, atol=None, seed=0):
    """Run ``ours(*tensors)`` and ``theirs(*torch_tensors)`` on the same arrays; compare the
    outputs and the gradients of sum(out * a fixed random cotangent) w.r.t. the inputs whose
    index is in ``grad`` (all float inputs by default). Tuples of outputs compare the first
    as values and the rest exactly (indices)."""
    import torch

    rtol = rtol or (1e-4 if dtype == np.float32 else 1e-10)
    atol = atol or (1e-5 if dtype == np.float32 else 1e-10)
    arrays = [np.asarray(a).astype(dtype) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
              for a in arrays]
    grad = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if grad is None else grad
    ts = [cr.tensor(a, requires_grad=i in grad) if i in grad else
          (cr.tensor(a) if a.dtype.kind == "f" else a) for i, a in enumerate(arrays)]
    th = [torch.tensor(a, requires_grad=i in grad) for i, a in enumerate(arrays)]
    y, ty = ours(*ts), theirs(*th)
    if isinstance(y, tuple):
        for extra, textra in zip(y[1:], ty[1:]):
            np.testing.assert_array_equal(np.asarray(extra.data), textra.numpy())
        y, ty = y[0], ty[0]
    assert y.shape == tuple(ty.shape), (y.shape, tuple(ty.shape))
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=rtol, atol=atol)
    if not grad:
        return
    ct = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
    (y * cr.tensor(ct)).sum().backward()
    (ty * torch.tensor(ct)).sum().backward()
    for i in grad:
        assert ts[i].grad is not None, f"no gradient for input {i}"
        np.testing.assert_allclose(ts[i].grad.data if hasattr(ts[i].grad, "data") else
                                   ts[i].grad, th[i].grad.numpy(), rtol=rtol, atol=atol)


def checks(f, inputs, atol=1e-5, second=True):
    """First- and second-order gradchecks, reverse and forward mode."""
    assert cr.gradcheck(f, inputs, atol=atol)
    if second:
        assert cr.gradgradcheck(f, inputs, atol=max(atol, 1e-4))
