"""Training: the Trainer (fit/evaluate/predict), callbacks, metrics, progress, history.

Example::

    from chainrule.train import Trainer, EarlyStopping

    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer, metrics=["accuracy"])
    history = trainer.fit((x, y), val=(xv, yv), epochs=20, seed=0,
                          callbacks=[EarlyStopping(patience=3)])
    history.history["val_accuracy"]        # one value per epoch

One loop for every kind of training: a model with its own ``train_step`` (a GAN:
:func:`fit_gan`), a Trainer subclass overriding :meth:`Trainer.train_step`
(:class:`TBPTTTrainer` for recurrent language models), and callbacks for budgets
(:class:`Budget`), validation every N steps (:class:`PeriodicEvaluation`), the best weights
(:class:`BestModel`, :class:`ModelCheckpoint`), sample pictures (:class:`SampleGrid`) and
the learning-rate range test (:class:`LRFinder`, :meth:`Trainer.find_lr`).

Long runs are never lost: :class:`Checkpoint` saves everything needed to continue (each
epoch, every N steps or minutes, and on Ctrl-C/SIGTERM), ``fit(..., resume_from=dir)``
continues bit-identically, and a NaN/infinite loss stops training with
:class:`~chainrule.errors.TrainingDiverged` (:class:`TerminateOnNaN`, on by default).

The command-line entry point ``chainrule train`` lives in :mod:`chainrule.cli.train`.
"""

from .adversarial import EpochFunction, fit_gan
from .callbacks import (
    Callback,
    CallbackList,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    load_checkpoint,
    save_checkpoint,
)
from .checkpoint import Checkpoint, read_training_checkpoint
from .csv_logger import CSVLogger
from .history import History, plot_history
from .lr_finder import LRFinder
from .metrics import (
    METRICS,
    Metric,
    MetricTracker,
    RunningMean,
    accuracy,
    get_metric,
    mae,
    mse,
    rmse,
)
from .progress import ProgressBar
from .sample_grid import SampleGrid
from .step_callbacks import BestModel, Budget, PeriodicEvaluation, TerminateOnNaN
from .tbptt import TBPTTTrainer
from .trainer import Trainer, make_loader

__all__ = [
    "BestModel",
    "Budget",
    "CSVLogger",
    "Callback",
    "Checkpoint",
    "CallbackList",
    "EarlyStopping",
    "EpochFunction",
    "History",
    "LRFinder",
    "LambdaCallback",
    "LearningRateScheduler",
    "METRICS",
    "Metric",
    "MetricTracker",
    "ModelCheckpoint",
    "PeriodicEvaluation",
    "ProgressBar",
    "RunningMean",
    "SampleGrid",
    "TBPTTTrainer",
    "TerminateOnNaN",
    "Trainer",
    "accuracy",
    "fit_gan",
    "get_metric",
    "load_checkpoint",
    "mae",
    "make_loader",
    "mse",
    "plot_history",
    "read_training_checkpoint",
    "rmse",
    "save_checkpoint",
]
