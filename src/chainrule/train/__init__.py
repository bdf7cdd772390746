"""Training: the Trainer (fit/evaluate/predict), callbacks, metrics, progress, history.

Example::

    from chainrule.train import Trainer, EarlyStopping

    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer, metrics=["accuracy"])
    history = trainer.fit((x, y), val=(xv, yv), epochs=20, seed=0,
                          callbacks=[EarlyStopping(patience=3)])
    history.history["val_accuracy"]        # one value per epoch

The command-line entry point ``chainrule train`` lives in :mod:`chainrule.cli.train`.
"""

from .callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    load_checkpoint,
    save_checkpoint,
)
from .history import History, plot_history
from .metrics import METRICS, Metric, MetricTracker, accuracy, get_metric, mae, mse, rmse
from .progress import ProgressBar
from .trainer import Trainer, make_loader

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "METRICS",
    "Metric",
    "MetricTracker",
    "ModelCheckpoint",
    "ProgressBar",
    "Trainer",
    "accuracy",
    "get_metric",
    "load_checkpoint",
    "mae",
    "make_loader",
    "mse",
    "plot_history",
    "rmse",
    "save_checkpoint",
]
