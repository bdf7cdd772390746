"""``chainrule train`` for the representation-learning models, and ``chainrule generate``
for images.

    chainrule train --model autoencoder --dataset mnist --epochs 10 --data-dir ~/data
    chainrule train --model conv-autoencoder --dataset fashion-mnist --epochs 5
    chainrule train --model vae --dataset mnist --latent-size 2
    chainrule train --model gan --dataset mnist --conditional --epochs 20
    chainrule train --model dcgan --dataset fashion-mnist --label-smoothing 0.1
    chainrule generate --checkpoint runs/vae-mnist/model.npz --n 64 --out samples.png

Models (:data:`GENERATIVE`): ``autoencoder`` (stacked dense, Hands-On ML's 784-100-30),
``conv-autoencoder`` (strided convolutions, ``ConvTranspose2d`` decoder), ``vae`` (dense
variational autoencoder), ``gan`` (dense GAN) and ``dcgan`` (DCGAN-style). They train on
the images only (labels are used for the pictures, and by ``--conditional`` GANs):
autoencoders and the VAE see pixels in [0, 1] (sigmoid outputs), GANs in [-1, 1] (tanh).

The output folder gets ``model.npz`` (weights, optimizer state, the configuration that
rebuilds the model, and the test results), ``history.csv``, ``curves.png`` and the
pictures: ``reconstructions.png``, ``codings.png`` (2-D codings coloured by class; t-SNE
when scikit-learn is installed, else PCA), ``interpolation.png``, ``samples.png`` (VAE,
GANs), ``latent_grid.png`` (VAE with a 2-D latent space) and ``samples/epoch_NNN.png``
(GANs: the same latent points every epoch).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import io, nn
from ..errors import CheckpointError, DataError, UsageError
from ..models import create_model, save_model
from ..models.classifiers import image_shape
from ..random import manual_seed
from ..train import SampleGrid, Trainer, fit_gan, plot_history
from ..viz import images as pictures
from . import _runs, _session, common

__all__ = ["GENERATIVE", "build_generative", "check_args", "generate_images", "holds_images",
           "load_generative", "run_generative", "sample_checkpoint"]

PROG = "chainrule train"
GAN_RESULTS = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")  # printed after training
CODINGS_POINTS = 2000  # test images drawn in codings.png (t-SNE time grows with this)
GAN_ADAM_LR, GAN_ADAM_BETAS = 2e-4, (0.5, 0.999)  # the GANs' default optimizer (Géron, DCGAN)
#: What a run writes besides model.npz, checkpoint.npz, history.csv and args.json.
OUTPUTS = ("curves.png", "curves.svg", "reconstructions.png", "codings.png",
           "interpolation.png", "samples.png", "latent_grid.png")  # and the folder samples/


# --------------------------------------------------------------------------- data


@dataclass
class Images:
    """Image splits (N, C, H, W) scaled to ``value_range``, with their labels."""

    train: np.ndarray
    train_labels: np.ndarray
    val: np.ndarray | None
    test: np.ndarray
    test_labels: np.ndarray
    shape: tuple[int, int, int]
    num_classes: int
    value_range: tuple[float, float]


def _images(splits: Any, value_range: tuple[float, float]) -> Images:
    """Raw (train, val, test) pairs -> images in ``value_range``: every pixel is divided by
    the training set's maximum (1 for MNIST, 16 for the bundled digits)."""
    train, val, test = splits
    shape = image_shape(train[0].shape[1:], "images")
    top = float(train[0].max()) or 1.0
    lo, hi = value_range

    def scale(x: np.ndarray) -> np.ndarray:
        x = np.clip(np.asarray(x, np.float32) / top, 0.0, 1.0)
        return (lo + (hi - lo) * x).reshape(len(x), *shape).astype(np.float32)

    num_classes = int(max(train[1].max(), test[1].max())) + 1
    return Images(scale(train[0]), np.asarray(train[1]), None if val is None else scale(val[0]),
                  scale(test[0]), np.asarray(test[1]), shape, num_classes, value_range)


# --------------------------------------------------------------------------- models


@dataclass
class Spec:
    """How the command trains one registered model name and scales its images."""

    kind: str  # "autoencoder", "vae" or "gan"
    value_range: tuple[float, float]
    default_latent: int


#: The registered models ``chainrule train`` trains as generative models.
GENERATIVE: dict[str, Spec] = {
    "autoencoder": Spec("autoencoder", (0.0, 1.0), 30),
    "conv-autoencoder": Spec("autoencoder", (0.0, 1.0), 0),  # 0: no dense bottleneck
    "vae": Spec("vae", (0.0, 1.0), 10),
    "gan": Spec("gan", (-1.0, 1.0), 30),
    "dcgan": Spec("gan", (-1.0, 1.0), 100),
}


def model_arguments(config: dict[str, Any]) -> dict[str, Any]:
    """The registry arguments of the model a run's ``config`` describes."""
    shape = tuple(int(d) for d in config["image_shape"])
    latent = int(config["latent_size"])
    kind = GENERATIVE[config["model"]].kind
    if kind == "gan":
        return {"latent_size": latent, "image_shape": shape,
                "num_classes": int(config.get("conditional_classes", 0)),
                "label_smoothing": float(config.get("label_smoothing", 0.0))}
    if kind == "vae":
        return {"input_shape": shape, "latent_size": latent}
    return {"input_shape": shape, "code_size": latent or None}


def build_generative(config: dict[str, Any]) -> Any:
    """Build, through the model registry, the model a run's ``config`` describes: a
    Module for the autoencoders and the VAE, a :class:`~chainrule.models.GAN` for the
    GANs (with the optimizers the config names, :func:`gan_optimizers`)."""
    model = create_model(config["model"], **model_arguments(config))
    if GENERATIVE[config["model"]].kind == "gan":
        model.g_optimizer, model.d_optimizer = gan_optimizers(model, config)
    return model


def gan_optimizers(gan: Any, config: dict[str, Any]) -> tuple[Any, Any]:
    """The generator's and the discriminator's optimizers for ``--optimizer``, ``--lr``,
    ``--momentum`` (in ``config``): Adam with the book's settings (lr 2e-4, betas
    (0.5, 0.999), Radford et al.) unless told otherwise; SGD with ``--momentum``."""
    from ..optim import create_optimizer

    name, lr = config.get("optimizer") or "adam", config.get("lr")
    if name == "adam":
        extra: dict[str, Any] = {"betas": GAN_ADAM_BETAS}
        lr = GAN_ADAM_LR if lr is None else lr
    else:
        extra = {"momentum": float(config.get("momentum", 0.9))} if name == "sgd" else {}
    return (create_optimizer(name, gan.generator.parameters(), lr, **extra),
            create_optimizer(name, gan.discriminator.parameters(), lr, **extra))


# --------------------------------------------------------------------------- training


def check_args(args: argparse.Namespace) -> int:
    """Validate the arguments of a generative run (before any data is read); return the
    latent size. Raises UsageError with one line."""
    spec = GENERATIVE[args.model]
    common.check_hyperparameters(args)
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError(f"--model {args.model} draws its pictures with matplotlib, which is "
                         "not installed: pip install 'chainrule[viz]'")
    if not 0 <= args.label_smoothing < 1:
        raise UsageError(f"--label-smoothing must be in [0, 1), got {args.label_smoothing}")
    if spec.kind != "gan" and (args.conditional or args.label_smoothing):
        raise UsageError("--conditional and --label-smoothing are for --model gan or dcgan")
    latent = spec.default_latent if args.latent_size is None else args.latent_size
    if args.latent_size is not None and args.latent_size <= 0:
        raise UsageError(f"--latent-size must be a positive integer, got {args.latent_size}")
    return latent


def _fit_reconstruction(args: argparse.Namespace, model: nn.Module, data: Images, kind: str,
                        out: Path, resumed: bool) -> tuple[Any, Any, float]:
    """Train an autoencoder (MSE) or a VAE (BCE on logits + its KL term)."""
    loss = nn.BCEWithLogitsLoss() if kind == "vae" else nn.MSELoss()
    optimizer = common.make_optimizer(args, model.parameters(), default_lr=1e-3)
    # the VAE's KL term, or an autoencoder's sparsity penalty (0 without one)
    trainer = Trainer(model, loss, optimizer, metrics=(),
                      regularizer=lambda m: m.regularization())
    start = time.perf_counter()
    history = trainer.fit((data.train, data.train),
                          val=None if data.val is None else (data.val, data.val),
                          epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                          verbose=not args.quiet, callbacks=_session.callbacks(args, out),
                          resume_from=_session.resume_path(out, resumed))
    return history, optimizer, time.perf_counter() - start


def _reconstruction_results(model: Any, data: Images, kind: str) -> dict[str, float]:
    recon = model.reconstruct(data.test)
    results = {"test_mse": float(np.mean((recon - data.test) ** 2))}
    if kind == "vae":
        results["test_negative_elbo"] = float(model.negative_elbo(data.test))
    return results


def _codes(model: Any, x: np.ndarray, kind: str) -> np.ndarray:
    out = model.encode(x)
    return np.asarray(out[0] if kind == "vae" else out)  # a VAE's codings are its means


def _draw_reconstruction_pictures(model: Any, data: Images, kind: str, out: Path,
                                  latent: int, seed: int) -> list[str]:
    written = []
    n = min(10, len(data.test))
    pictures.plot_reconstructions(data.test[:n], model.reconstruct(data.test[:n]),
                                  out / "reconstructions.png", value_range=data.value_range)
    written.append("reconstructions.png")
    m = min(CODINGS_POINTS, len(data.test))
    pictures.plot_codings(_codes(model, data.test[:m], kind), data.test_labels[:m],
                          out / "codings.png", seed=seed)
    written.append("codings.png")
    decode = model.decode
    codes = _codes(model, data.test[:8], kind)
    pairs = [(codes[i], codes[i + 1]) for i in range(0, min(8, len(codes)) - 1, 2)]
    pictures.plot_interpolation(decode, pairs, out / "interpolation.png",
                                value_range=data.value_range)
    written.append("interpolation.png")
    if kind == "vae":
        pictures.image_grid(model.generate(64, seed=seed), out / "samples.png", ncols=8,
                            value_range=data.value_range)
        written.append("samples.png")
        if latent == 2:
            pictures.plot_latent_grid(model.decode, out / "latent_grid.png")
            written.append("latent_grid.png")
    return written


def _fit_gan(args: argparse.Namespace, gan: Any, data: Images, out: Path,
             resumed: bool) -> tuple[dict[str, list[float]], float, list[str]]:
    labels = data.train_labels if gan.num_classes else None
    grid = SampleGrid(out / "samples" / "epoch_{epoch:03d}.png", n=64, seed=args.seed)
    start = time.perf_counter()
    history = fit_gan(gan, data.train, labels, epochs=args.epochs, batch_size=args.batch_size,
                      seed=args.seed, verbose=not args.quiet,
                      callbacks=[grid, *_session.callbacks(args, out)],
                      resume_from=_session.resume_path(out, resumed))
    seconds = time.perf_counter() - start
    n = 10 * (gan.num_classes or 8)
    lab = np.repeat(np.arange(gan.num_classes), 10) if gan.num_classes else None
    pictures.image_grid(gan.sample(n, labels=lab, seed=args.seed), out / "samples.png",
                        ncols=10, value_range=data.value_range)
    rng = np.random.default_rng(args.seed)
    z = rng.standard_normal((8, gan.latent_size)).astype(np.float32)
    pairs = [(z[i], z[i + 1]) for i in range(0, 8, 2)]
    label = 0 if gan.num_classes else None

    def decode(zs: np.ndarray) -> np.ndarray:
        return gan.generate(zs, labels=None if label is None else np.full(len(zs), label))

    pictures.plot_interpolation(decode, pairs, out / "interpolation.png", method="slerp",
                                value_range=data.value_range)
    epochs = len(history.history["g_loss"])
    return history.history, seconds, \
        ["samples.png", "interpolation.png", f"samples/ ({epochs} grids)"]


def run_generative(args: argparse.Namespace, splits: Any, out: Path,
                   resumed: bool = False) -> int:
    """Train ``args.model`` (a name in :data:`GENERATIVE`) on the raw ``splits`` and write
    the checkpoint and pictures into the run folder ``out`` (continuing its checkpoint when
    ``resumed``). Raises UsageError on bad arguments."""
    spec = GENERATIVE[args.model]
    latent = check_args(args)
    data = _images(splits, spec.value_range)
    classes = data.num_classes if args.conditional else 0
    config: dict[str, Any] = {
        "model": args.model, "dataset": args.dataset, "image_shape": list(data.shape),
        "latent_size": latent, "conditional_classes": classes,
        "label_smoothing": args.label_smoothing, "value_range": list(data.value_range),
        "optimizer": args.optimizer, "lr": args.lr, "momentum": args.momentum,
        "batch_size": args.batch_size, "epochs": args.epochs, "seed": args.seed}
    manual_seed(args.seed)
    try:
        model = build_generative(config)
    except ValueError as exc:
        raise UsageError(f"model {args.model!r} does not fit {args.dataset} (images of shape "
                         f"{data.shape}): {exc}") from None
    return _session.run_session(
        args, out, resumed, lambda: _train_generative(args, model, data, config, out, resumed),
        OUTPUTS)


def _train_generative(args: argparse.Namespace, model: Any, data: Images,
                      config: dict[str, Any], out: Path, resumed: bool) -> int:
    spec = GENERATIVE[args.model]
    sizes = "/".join(str(len(s)) for s in (data.train, data.val, data.test) if s is not None)
    code = getattr(model, "code_shape", None) or (config["latent_size"],)
    print(f"{PROG}: {args.model} on {args.dataset} (train/{'val/' if data.val is not None else ''}"
          f"test {sizes}), codings {'×'.join(map(str, code))}, batch {args.batch_size}, "
          f"{_session.epochs_text(args)}, seed {args.seed}", flush=True)
    if spec.kind == "gan":
        history, seconds, written = _fit_gan(args, model, data, out, resumed)
        results = {k: history[k][-1] for k in GAN_RESULTS if k in history}
        optimizer = None
    else:
        hist, optimizer, seconds = _fit_reconstruction(args, model, data, spec.kind, out,
                                                       resumed)
        history = hist.history
        results = _reconstruction_results(model, data, spec.kind)
        written = _draw_reconstruction_pictures(model, data, spec.kind, out,
                                                config["latent_size"], args.seed)
    spare = _runs.save_or_fallback(
        out / "model.npz", lambda path: save_model(model, path, optimizer=optimizer,
                                                   config=config, results=results),
        _session.say)
    curves = plot_history(history, out / "curves")
    print(f"trained in {seconds:.1f} s")
    for key, value in results.items():
        print(f"{key.replace('_', ' ')}: {value:.4f}")
    saved = "model.npz, " if spare is None else ""
    print(f"wrote {out}/: {saved}history.csv, {curves.name}, {', '.join(written)}, "
          "checkpoint.npz")
    return 0 if spare is None else 1


# --------------------------------------------------------------------------- generate


def load_generative(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Rebuild the model saved at ``path`` by ``chainrule train --model vae|gan|...``.

    Raises:
        ValueError: the file is not such a checkpoint, or its weights do not fit the
            architecture its configuration describes (the message names what differs).
    """
    data = io.load(path)
    config = data.get("config")
    if not isinstance(config, dict) or config.get("model") not in GENERATIVE:
        raise ValueError(f"{path} is not a checkpoint of one of {', '.join(GENERATIVE)}")
    model = build_generative(config)
    # GAN files written before the one checkpoint format kept the two networks at the top
    weights = data["model"] if "model" in data else \
        {k: data[k] for k in ("generator", "discriminator") if k in data}
    try:
        model.load_state_dict(weights)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path}: the weights do not fit a {config['model']} with "
                         f"{config['image_shape']} images and latent size "
                         f"{config['latent_size']}: {' '.join(str(exc).split())}") from None
    return model, config


def sample_checkpoint(path: str | Path, n: int, out: str | Path, seed: int = 0,
                      label: int | None = None) -> Path:
    """Draw ``n`` images from a VAE or GAN checkpoint into the grid picture ``out``."""
    model, config = load_generative(path)
    kind = GENERATIVE[config["model"]].kind
    if kind == "autoencoder":
        raise ValueError(f"{path} holds a plain autoencoder, which reconstructs but has no "
                         "prior to sample from; train --model vae, gan or dcgan")
    classes = int(config.get("conditional_classes", 0))
    if label is not None and (not classes or not 0 <= label < classes):
        raise ValueError(f"--label {label} does not fit: the model is "
                         + (f"conditional on {classes} classes" if classes
                            else "not conditional"))
    if kind == "vae":
        images = model.generate(n, seed=seed)
    else:
        labels = None if not classes else (np.full(n, label) if label is not None
                                           else np.arange(n) % classes)
        images = model.sample(n, labels=labels, seed=seed)
    lo, hi = config.get("value_range", (0.0, 1.0))
    return pictures.image_grid(images, out, ncols=min(n, 10), value_range=(lo, hi))


def holds_images(path: str | Path) -> bool:
    """True for checkpoints written by ``chainrule train --model vae|gan|...``."""
    try:
        config = io.load(path).get("config")
    except (DataError, ValueError, OSError):
        return False  # reported by the char-lstm loader
    return isinstance(config, dict) and config.get("model") in GENERATIVE


def generate_images(args: argparse.Namespace) -> int:
    """``chainrule generate`` for an image checkpoint: a grid of ``--n`` samples to ``--out``."""
    common.check_positive_int("--n", args.n)
    try:
        path = sample_checkpoint(args.checkpoint, args.n, args.out, seed=args.seed,
                                 label=args.label)
    except (DataError, ValueError, KeyError) as exc:
        raise CheckpointError(f"cannot sample from {args.checkpoint}: "
                              f"{common.one_line(exc)}") from None
    print(f"wrote {path} ({args.n} images)")
    return 0
