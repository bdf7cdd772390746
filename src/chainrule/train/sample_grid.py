""":class:`SampleGrid`: a picture of a generative model's samples after every epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .callbacks import Callback, Logs

__all__ = ["SampleGrid"]


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"SampleGrid: {name} must be a positive integer, got {value!r}")
    return int(value)


class SampleGrid(Callback):
    """Save a grid of generated images after every epoch (a GAN's, or any model with
    ``latent_size``, ``num_classes`` and ``sample(n, labels, z=...)``).

    The same latent batch (drawn once from ``np.random.default_rng(seed)``) is used every
    epoch, so the pictures show how the generator changes. ``path_pattern`` is formatted
    with ``epoch`` (from 1) and the epoch's logs, e.g. ``"runs/gan/epoch-{epoch:03d}.png"``.
    A conditional model gets labels ``arange(n) % num_classes`` by default (with ``ncols =
    num_classes`` each column is one class). Pixels are drawn over the generator's
    ``output_range`` (e.g. [-1, 1] for tanh), else over the samples' own range.
    ``paths`` lists the files written.

    A Trainer callback; also callable as ``grid(epoch, model, logs)``.
    """

    def __init__(self, path_pattern: str | Path, n: int = 100, seed: int = 0, ncols: int = 10,
                 labels: Any = None) -> None:
        self.path_pattern = str(path_pattern)
        self.n = _positive("n", n)
        self.ncols = _positive("ncols", ncols)
        self.seed = seed
        self.labels = labels
        self.z: np.ndarray | None = None
        self.paths: list[Path] = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self(epoch, self.model, logs)

    def state_dict(self) -> dict[str, Any]:
        return {"paths": [str(p) for p in self.paths]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.paths = [Path(p) for p in state["paths"]]

    def __call__(self, epoch: int, model: Any, logs: Logs | None = None) -> Path:
        from ..viz.images import image_grid

        if self.z is None:
            self.z = np.random.default_rng(self.seed).standard_normal((self.n,
                                                                       model.latent_size))
        labels = self.labels
        if labels is None and model.num_classes:
            labels = np.arange(self.n) % model.num_classes
        images = model.sample(self.n, labels, z=self.z)
        bounds = getattr(getattr(model, "generator", None), "output_range", None)
        if bounds is None:
            bounds = (float(images.min()), float(images.max()))
        path = self.path_pattern.format(epoch=epoch + 1, **(logs or {}))
        self.paths.append(image_grid(images, path, ncols=self.ncols, value_range=bounds,
                                     title=f"epoch {epoch + 1}"))
        return self.paths[-1]
