"""Fit the float32 erf of the fused GELU (src/chainrule/nn/kernels/gelu.py).

    python experiments/gelu_erf_fit.py [--degree 6]

erf(z) = tanh(z P(z^2)) on 0 < z <= 4.5, P a polynomial: z P(z^2) = atanh(erf(z)), which
grows smoothly (like z^2 / 2 far out) where erf itself flattens, so a low degree suffices.
erf rounds to 1 in float32 from z = 4 on; the clamp at 4.5 puts tanh's argument at 14.4,
where NumPy's float32 tanh returns exactly 1 (up to about 9.9 it returns 1 - 6e-8, which
would leave x Phi(x) at -3e-8 x instead of 0 for very negative x). P minimises the largest
relative error of erf (Lawson's iteratively reweighted least squares, in float64). Prints
the coefficients (lowest order first) and the largest relative error of erf and of GELU
when the formula is evaluated in float32 on a fine grid of [-8, 8], beside PyTorch's
float32 GELU when torch is installed.
"""

from __future__ import annotations

import argparse

import numpy as np
from numpy.polynomial import polynomial as poly
from scipy.special import erf, ndtr

CLAMP = 4.5


def fit(degree: int, iterations: int = 200) -> np.ndarray:
    z = np.linspace(1e-4, CLAMP, 40001)
    e = erf(z)
    keep = e < 1 - 1e-12  # atanh of 1 is infinite; there tanh saturates anyway
    z, e = z[keep], e[keep]
    target = np.arctanh(e) / z
    sensitivity = (1 - e * e) * z / e  # relative error of erf per unit error of P
    w = np.ones_like(z)
    for _ in range(iterations):
        coef = poly.polyfit(z * z, target, degree, w=np.sqrt(w) * sensitivity)
        err = np.abs((poly.polyval(z * z, coef) - target) * sensitivity)
        w = w * err
        w /= w.sum()
    return coef


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--degree", type=int, default=6)
    a = p.parse_args()
    coef = fit(a.degree)
    print("coefficients (lowest order first):", tuple(float(c) for c in coef))
    x = np.linspace(-8, 8, 2_000_001).astype(np.float32)
    z = np.clip(x * np.float32(np.sqrt(0.5)), -CLAMP, CLAMP)
    s, acc = z * z, np.full_like(z, coef[-1])
    for c in coef[-2::-1]:
        acc = acc * s + np.float32(c)
    approx = np.tanh(z * acc).astype(np.float64)
    x64 = x.astype(np.float64)
    exact = erf(x64 * np.sqrt(0.5))
    big = np.abs(exact) > 1e-30
    rel = np.abs(approx - exact)[big] / np.abs(exact)[big]
    print(f"float32 erf: largest relative error {rel.max():.3g}")
    gelu64 = x64 * ndtr(x64)
    ours = (x * (np.float32(0.5) + np.float32(0.5) * approx.astype(np.float32))).astype(np.float64)
    print(f"float32 GELU: largest absolute error {np.max(np.abs(ours - gelu64)):.3g}")
    try:
        import torch
    except ImportError:
        return
    ref = torch.nn.functional.gelu(torch.from_numpy(x)).numpy().astype(np.float64)
    print(f"PyTorch's float32 GELU: largest absolute error {np.max(np.abs(ref - gelu64)):.3g}")


if __name__ == "__main__":
    main()
