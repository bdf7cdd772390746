"""One playground session: its settings, its data, and a network trained by chainrule.

:class:`Settings` checks what the page sends (every bad value raises
:class:`~.errors.PlaygroundInputError` with a message for the page). :class:`Session` builds
the data and an MLP of :class:`chainrule.nn.Linear` layers, trains it one epoch per
:meth:`Session.train_epoch` with a chainrule optimizer, and describes it for the page in
:meth:`Session.frame`: losses, weights, and every neuron's output over a grid of the plane
(one byte per cell, -1..1).
"""

from __future__ import annotations

import base64
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import no_grad
from ..autograd.tensor import Tensor
from ..nn import Linear, l1_penalty, l2_penalty
from ..optim import OPTIMIZERS
from .datasets import DATASETS, FEATURES, features, make_dataset, split
from .errors import PlaygroundInputError

__all__ = ["ACTIVATIONS", "GRID", "Session", "Settings"]

ACTIVATIONS = {
    "tanh": lambda t: t.tanh(),
    "relu": lambda t: t.relu(),
    "sigmoid": lambda t: t.sigmoid(),
    "linear": lambda t: t,
}
GRID = 40  # cells per side of the heat maps
EXTENT = 6.0  # the maps cover [-EXTENT, EXTENT]^2
MAX_UNITS, MAX_LAYERS, MAX_POINTS = 16, 6, 2000

@dataclass
class Settings:
    """What the page's controls say (the defaults are TensorFlow Playground's)."""

    dataset: str = "circle"
    noise: float = 0.0
    train_ratio: float = 0.5
    points: int = 500
    features: list[str] = field(default_factory=lambda: ["x1", "x2"])
    hidden: list[int] = field(default_factory=lambda: [4, 2])
    activation: str = "tanh"
    lr: float = 0.03
    optimizer: str = "sgd"
    regularization: str = "none"
    reg_rate: float = 0.0
    batch_size: int = 10
    seed: int = 0

    @classmethod
    def from_json(cls, data: Any) -> Settings:
        """Settings from the page's JSON object; unknown keys or bad values raise
        :class:`PlaygroundInputError` naming the control."""
        if not isinstance(data, dict):
            raise PlaygroundInputError("settings must be a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise PlaygroundInputError(f"unknown setting(s): {', '.join(unknown)}")
        s = cls(**data)
        s.check()
        return s

    def check(self) -> None:
        def number(name: str, value: Any, lo: float, hi: float, integer: bool = False) -> None:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok and integer:
                ok = float(value).is_integer()
            if not ok or not math.isfinite(value) or not lo <= value <= hi:
                kind = "an integer" if integer else "a number"
                raise PlaygroundInputError(f"{name} must be {kind} in [{lo:g}, {hi:g}], "
                                           f"got {value!r}")

        if self.dataset not in DATASETS:
            raise PlaygroundInputError(f"unknown dataset {self.dataset!r}")
        number("noise", self.noise, 0, 0.5)
        number("train/test ratio", self.train_ratio, 0.1, 0.9)
        number("points", self.points, 20, MAX_POINTS, integer=True)
        if (not isinstance(self.features, list) or not self.features
                or any(f not in FEATURES for f in self.features)):
            raise PlaygroundInputError(f"features must be a non-empty list of "
                                       f"{', '.join(FEATURES)}; got {self.features!r}")
        if not isinstance(self.hidden, list) or len(self.hidden) > MAX_LAYERS:
            raise PlaygroundInputError(f"hidden layers: at most {MAX_LAYERS}")
        for i, units in enumerate(self.hidden):
            number(f"units of hidden layer {i + 1}", units, 1, MAX_UNITS, integer=True)
        if self.activation not in ACTIVATIONS:
            raise PlaygroundInputError(f"unknown activation {self.activation!r}; choose one "
                                       f"of {', '.join(ACTIVATIONS)}")
        number("learning rate", self.lr, 1e-6, 10)
        if self.optimizer not in OPTIMIZERS:
            raise PlaygroundInputError(f"unknown optimizer {self.optimizer!r}")
        if self.regularization not in ("none", "l1", "l2"):
            raise PlaygroundInputError("regularization must be none, l1 or l2")
        number("regularization rate", self.reg_rate, 0, 10)
        number("batch size", self.batch_size, 1, MAX_POINTS, integer=True)
        number("seed", self.seed, 0, 2**31 - 1, integer=True)
        self.points, self.batch_size, self.seed = int(self.points), int(self.batch_size), \
            int(self.seed)
        self.hidden = [int(u) for u in self.hidden]


class Session:
    """One browser tab's network: independent of every other session."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.reset(settings or Settings())

    def reset(self, settings: Settings | None = None) -> None:
        """New data (if ``settings`` are given) and a freshly initialised network."""
        if settings is not None:
            self.settings = settings
        self.resets = getattr(self, "resets", 0) + 1
        s = self.settings
        points, labels = make_dataset(s.dataset, s.points, s.noise, s.seed)
        self.x_train, self.y_train, self.x_test, self.y_test = split(points, labels,
                                                                     s.train_ratio, s.seed)
        self.f_train = features(self.x_train, s.features)
        self.f_test = features(self.x_test, s.features)
        axis = np.linspace(-EXTENT, EXTENT, GRID)
        gx, gy = np.meshgrid(axis, -axis)  # row 0 is the top of the picture
        self.f_grid = features(np.stack([gx.ravel(), gy.ravel()], axis=1), s.features)
        sizes = [len(s.features), *s.hidden, 1]
        self.layers = [Linear(a, b, init="zeros") for a, b in zip(sizes, sizes[1:])]
        init = np.random.default_rng(s.seed + 3)  # this session's own stream, not the global one
        for layer in self.layers:  # Glorot uniform, as Linear's default
            limit = math.sqrt(6.0 / (layer.in_features + layer.out_features))
            layer.weight.data[...] = init.uniform(-limit, limit, layer.weight.shape)
        spec = OPTIMIZERS[s.optimizer]
        params = [p for layer in self.layers for p in layer.parameters()]
        self.optimizer = spec.cls(params, lr=s.lr, **spec.kwargs)
        self.rng = np.random.default_rng(s.seed + 2)
        self.epoch = 0
        self._order: np.ndarray | None = None
        self._pos = 0

    def _forward(self, x: Any, keep: bool = False) -> tuple[Any, list[Any]]:
        act = ACTIVATIONS[self.settings.activation]
        h, outputs = x, []
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = act(h)
            if keep:
                outputs.append(h)
        return h, outputs

    def _loss(self, logits: Any, y: Any) -> Any:
        # binary cross-entropy on logits: softplus(z) - y z, averaged
        return (logits.softplus() - logits * y).mean()

    def train_epoch(self) -> None:
        """Finish the current epoch: the rest of the training set in shuffled mini-batches."""
        self.advance(None)

    def advance(self, budget_s: float | None) -> None:
        """Train mini-batches until the epoch ends or ``budget_s`` seconds have passed (at
        least one batch), so that playing sends frames at a steady rate whatever the data
        size; the next call continues the same epoch."""
        s = self.settings
        weights = [layer.weight for layer in self.layers]
        deadline = None if budget_s is None else time.perf_counter() + budget_s
        while True:
            if self._order is None:
                self._order, self._pos = self.rng.permutation(len(self.f_train)), 0
            idx = self._order[self._pos:self._pos + s.batch_size]
            self._pos += s.batch_size
            logits, _ = self._forward(Tensor(self.f_train[idx]))
            loss = self._loss(logits, Tensor(self.y_train[idx, None]))
            if s.regularization == "l1" and s.reg_rate > 0:
                loss = loss + l1_penalty(weights, s.reg_rate)
            elif s.regularization == "l2" and s.reg_rate > 0:
                loss = loss + l2_penalty(weights, s.reg_rate)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            if self._pos >= len(self._order):
                self._order = None
                self.epoch += 1
                return
            if deadline is not None and time.perf_counter() >= deadline:
                return

    def epoch_progress(self) -> float:
        """Epochs done, with the fraction of the current one."""
        done = 0.0 if self._order is None else self._pos / len(self._order)
        return round(self.epoch + done, 3)

    def losses(self) -> tuple[float, float]:
        """(train loss, test loss): mean binary cross-entropy, without regularization."""
        with no_grad():
            out = []
            for f, y in ((self.f_train, self.y_train), (self.f_test, self.y_test)):
                logits, _ = self._forward(Tensor(f))
                out.append(float(self._loss(logits, Tensor(y[:, None])).item()))
        return out[0], out[1]

    def frame(self) -> dict[str, Any]:
        """What the page draws: losses, weights and biases, and heat maps (base64 bytes,
        GRID x GRID, 0 = -1, 255 = +1) of each input feature, each neuron and the output
        (2 sigmoid - 1, so the decision boundary is 0)."""
        train_loss, test_loss = self.losses()
        with no_grad():
            logits, outputs = self._forward(Tensor(self.f_grid), keep=True)
        maps = [[_encode(self.f_grid[:, j] / EXTENT) for j in range(self.f_grid.shape[1])]]
        for h in outputs[:-1]:
            values = h.numpy()
            maps.append([_encode(values[:, j]) for j in range(values.shape[1])])
        maps.append([_encode(np.tanh(logits.numpy()[:, 0] / 2))])
        return {
            "epoch": self.epoch_progress(),
            "train_loss": train_loss,
            "test_loss": test_loss,
            "grid": GRID,
            "extent": EXTENT,
            "maps": maps,
            "weights": [np.round(layer.weight.numpy(), 4).tolist() for layer in self.layers],
            "biases": [np.round(layer.bias.numpy(), 4).tolist() for layer in self.layers],
            "features": list(self.settings.features),
        }

    def neuron(self, column: int, unit: int) -> dict[str, str]:
        """The expression of one neuron at the first training point, for the backpropagation
        view: ``column`` 1.. is the layer (the last one is the output), ``unit`` its neuron.
        Weights and inputs are variables with their current values."""
        if not (isinstance(column, int) and isinstance(unit, int)
                and 1 <= column <= len(self.layers)
                and 0 <= unit < self.layers[column - 1].out_features):
            raise PlaygroundInputError(f"no neuron {unit} in layer {column}")
        layer = self.layers[column - 1]
        point = self.x_train[:1]
        values = {"x1": float(point[0, 0]), "x2": float(point[0, 1])}
        if column == 1:
            inputs = list(self.settings.features)
        else:
            with no_grad():
                _, outputs = self._forward(Tensor(features(point, self.settings.features)),
                                           keep=True)
            h = outputs[column - 2].numpy()[0]
            inputs = [f"h{j + 1}" for j in range(len(h))]
            values = {name: float(v) for name, v in zip(inputs, h)}
        w, b = layer.weight.numpy()[unit], float(layer.bias.numpy()[unit])
        terms = [f"w{j + 1}*{name}" for j, name in enumerate(inputs)]
        values.update({f"w{j + 1}": float(v) for j, v in enumerate(w)})
        values["b"] = b
        z = " + ".join([*terms, "b"])
        act = "sigmoid" if column == len(self.layers) else self.settings.activation
        note = ""
        if act in ("tanh", "sigmoid"):
            expression = f"{act}({z})"
        else:
            expression = z
            if act == "relu":
                note = "relu is not among the symbolic functions: showing its input z"
        text = ", ".join(f"{k}={v:.6g}" for k, v in values.items())
        return {"expression": expression, "values": text, "note": note}

    def points(self) -> dict[str, Any]:
        """The data points (rounded) for the output picture."""
        return {"train": np.round(np.column_stack([self.x_train, self.y_train]), 3).tolist(),
                "test": np.round(np.column_stack([self.x_test, self.y_test]), 3).tolist()}


def _encode(values: np.ndarray) -> str:
    q = np.clip(np.rint((np.clip(values, -1.0, 1.0) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return base64.b64encode(q.tobytes()).decode("ascii")
