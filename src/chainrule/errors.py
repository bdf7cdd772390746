"""Every exception type chainrule raises, in one place.

Each is a subclass of the built-in exception a caller would already catch (``ValueError``,
``RuntimeError``, ``FileNotFoundError``, ``AssertionError``), so ``except ValueError`` keeps
working; the names say which part of the library complained.
"""

from __future__ import annotations

__all__ = [
    "ShapeError",
    "GraphReleasedError",
    "GradcheckError",
    "DiffError",
    "DataError",
    "DataFileNotFoundError",
    "CheckpointError",
    "GraphvizNotFoundError",
    "UsageError",
    "TrainingDiverged",
    "TrainingInterrupted",
    "ExportError",
]


class ShapeError(ValueError):
    """An operation got inputs whose shapes do not fit; names the op and the shapes."""


class GraphReleasedError(RuntimeError):
    """Backward went through a graph whose saved tensors were already released."""


class GradcheckError(AssertionError):
    """Analytic and numeric derivatives disagree."""


class DiffError(ValueError):
    """Bad input to a differentiation engine.

    Raised for invalid arguments (``eps <= 0``, unknown method names), for values outside a
    function's domain (``log`` of a non-positive number, division by zero), for non-finite
    function values, and for malformed or unknown symbolic expressions. It subclasses
    :class:`ValueError`, so ``except ValueError`` also catches it.
    """


class DataError(ValueError):
    """A data file is missing, corrupt, truncated or not what it claims to be.

    The message always names the file (or the files looked for) and what is wrong,
    and where it helps, how to fix it.
    """


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A needed file does not exist (and could not be downloaded).

    Both a :class:`DataError` (so a :class:`ValueError`) and a :class:`FileNotFoundError`,
    so either ``except`` clause catches it.
    """


class CheckpointError(DataError):
    """A saved model or checkpoint is missing, corrupt, or does not fit the model.

    A :class:`DataError` (a bad file), so code written before it existed keeps catching it.
    """


class GraphvizNotFoundError(RuntimeError):
    """Rendering to SVG/PNG was asked for but Graphviz is not installed."""


class UsageError(ValueError):
    """Bad input from the user of the command line: reported as one line, exit code 2."""


class ExportError(ValueError):
    """A model or function cannot be written as ONNX (``chainrule.onnx``): a primitive
    without a mapping, a graph that changes with the batch size (issue 16)."""


# --------------------------------------------------------------------------- training (issue 14)


class TrainingDiverged(RuntimeError):
    """Training stopped because the loss became NaN or infinite (see
    :class:`chainrule.train.TerminateOnNaN`).

    Attributes: ``epoch`` and ``batch`` (0-based) and ``step`` (1-based count of training
    steps) where it happened, ``key`` and ``value`` (the non-finite logged value),
    ``checkpoint`` (the last finite checkpoint file, or None).
    """

    def __init__(self, message: str, *, epoch: int = -1, batch: int = -1, step: int = 0,
                 key: str = "loss", value: float = float("nan"),
                 checkpoint: str | None = None) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.step = epoch, batch, step
        self.key, self.value, self.checkpoint = key, value, checkpoint


class TrainingInterrupted(KeyboardInterrupt):
    """``Trainer.fit`` was interrupted by SIGINT (Ctrl-C) or SIGTERM.

    A :class:`KeyboardInterrupt`, so code that handles Ctrl-C keeps working. Attributes:
    ``signum`` (the signal's number), ``checkpoint`` (the file written before stopping,
    from which ``fit(..., resume_from=...)`` continues; None if there is none).
    """

    def __init__(self, message: str, *, signum: int = 2, checkpoint: str | None = None) -> None:
        super().__init__(message)
        self.signum, self.checkpoint = signum, checkpoint
