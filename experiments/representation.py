"""Representation learning on MNIST and Fashion-MNIST: autoencoders, a VAE and GANs.

Every number is measured on the 10,000 test images of the dataset; nothing is selected on
them (all epochs and hyperparameters are fixed below, before any run). Parts (``--parts``):

* ``dense-ae``: Hands-On ML's stacked autoencoder 784-100-30-100-784 (SELU, sigmoid
  output), pixels in [0, 1], MSE, Adam 1e-3, batch 64, ``--ae-epochs`` epochs, on MNIST
  and Fashion-MNIST; also its tied-weights twin (half the weights).
* ``book-ae``: the convolutional autoencoder of "Deep Learning from Scratch" ch. 7
  (Conv 1→14→7 5×5 tanh, Dense 5488→28→5488 tanh, Conv 7→14→1 tanh), the book's recipe:
  inputs in [-1, 1], MSE, SGD lr 0.01 momentum 0.9, batch 60 (``fit(..., epochs=1,
  batch_size=60)`` in the book's text), ONE epoch, PyTorch's default initialisation. The
  book reports a test MSE of 0.0693 (0.0690 in its notebook).
* ``conv-ae``: ``chainrule.models.conv_autoencoder`` (stride-2 convolutions 16, 32, a
  28-number dense bottleneck like the book's, ``ConvTranspose2d`` decoder, tanh output),
  the same data in [-1, 1], Adam 1e-3, batch 32, ONE epoch: the same budget as the book.
* ``vae``: ``dense_vae`` (784-150-100-latent, SELU) with latent sizes 10 and 2, BCE on
  logits + KL, Adam 1e-3, batch 128, ``--vae-epochs`` epochs; the test negative ELBO per
  image in nats (single-sample estimate).
* ``pretrain``: 500 labelled MNIST images (50 per class, drawn with the seed) and the
  60,000 unlabelled training images. The encoder of the ``dense-ae`` autoencoder
  (784-100-30, trained on the images without labels) + Dense(30→10) is trained on the
  500 labels (a) with the encoder frozen, (b) frozen then fine-tuned, against (c) the same
  network from scratch. 200 epochs each (fixed), Adam, several label draws (``--seeds``).
* ``gan``: a conditional dense GAN on MNIST (``--gan-epochs``), and ``dcgan``: an
  unconditional DCGAN on Fashion-MNIST (``--dcgan-epochs``). A chainrule classifier
  (``cnn``, 2 epochs on the MNIST / Fashion-MNIST training images) labels generated
  images: the conditional GAN's accuracy is the share of images generated for class k
  that the classifier calls k; for the unconditional DCGAN we report the distribution of
  predicted classes (mode collapse shows as missing or dominant classes).

Figures go to ``docs/figures/repr_*.png``, numbers to ``--out`` (JSON) and the console.

    OPENBLAS_NUM_THREADS=1 python experiments/representation.py --data-dir ../shared/data \\
        [--parts dense-ae,book-ae,conv-ae,vae,pretrain,gan,dcgan] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import chainrule.nn as nn  # noqa: E402
from chainrule.data import load_fashion_mnist, load_mnist  # noqa: E402
from chainrule.models import (  # noqa: E402
    GAN,
    build_model,
    conv_autoencoder,
    dcgan_discriminator,
    dcgan_generator,
    dense_autoencoder,
    dense_discriminator,
    dense_generator,
    dense_vae,
    dlfs_conv_autoencoder,
)
from chainrule.optim import SGD, Adam  # noqa: E402
from chainrule.random import manual_seed  # noqa: E402
from chainrule.train import SampleGrid, Trainer  # noqa: E402
from chainrule.viz import images as pictures  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"
SEED = 20261122
LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}
FASHION = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Boot"]


def data(name: str, args: argparse.Namespace, limit: int | None = None):
    """(x, y), (xt, yt) with x in [0, 1] of shape (N, 1, 28, 28), float32."""
    (x, y), (xt, yt) = LOADERS[name](args.data_dir)
    x, xt = x.reshape(-1, 1, 28, 28), xt.reshape(-1, 1, 28, 28)
    if limit:
        x, y, xt, yt = x[:limit], y[:limit], xt[:limit // 6], yt[:limit // 6]
    return (x.astype(np.float32), y), (xt.astype(np.float32), yt)


def mse(model: Any, x: np.ndarray) -> float:
    return float(np.mean((model.reconstruct(x) - x) ** 2, dtype=np.float64))


def fit(model: Any, loss: Any, opt: Any, x: np.ndarray, epochs: int, batch: int, seed: int,
        regularizer: Any = None) -> float:
    """Train on (x, x); return the seconds taken."""
    trainer = Trainer(model, loss, opt, metrics=(), regularizer=regularizer)
    start = time.perf_counter()
    trainer.fit((x, x), epochs=epochs, batch_size=batch, seed=seed, verbose=False)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- parts


def dense_ae(args: argparse.Namespace, results: dict[str, Any]) -> None:
    for name in ("mnist", "fashion-mnist"):
        (x, y), (xt, yt) = data(name, args, args.limit)
        for tied in (False, True):
            manual_seed(SEED)
            model = dense_autoencoder((1, 28, 28), hidden=(100,), code_size=30, tied=tied)
            secs = fit(model, nn.MSELoss(), Adam(model.parameters(), lr=1e-3), x,
                       args.ae_epochs, 64, SEED)
            key = f"dense-ae{'-tied' if tied else ''}/{name}"
            results[key] = {"test_mse": mse(model, xt), "epochs": args.ae_epochs,
                            "params": sum(p.size for p in model.parameters()),
                            "seconds": secs}
            print(key, results[key], flush=True)
            if not tied:
                if name == "mnist":
                    from chainrule import io

                    io.save(dict(model.state_dict()), args.workdir / "dense_ae_mnist.npz")
                tag = name.replace("-mnist", "")
                pictures.plot_reconstructions(xt[:10], model.reconstruct(xt[:10]),
                                              FIGURES / f"repr_dense_ae_{tag}.png",
                                              value_range=(0, 1),
                                              title=f"dense autoencoder (30 codings), {name}")
                codes = model.encode(xt[:2000])
                names = FASHION if name == "fashion-mnist" else None
                pictures.plot_codings(codes, yt[:2000], FIGURES / f"repr_codings_{tag}.png",
                                      class_names=names, seed=0,
                                      title=f"30-D codings of {name} test images (t-SNE)")


def denoise_sparse(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Denoising (Gaussian noise 0.2 / dropout 0.5 on the input) and sparse (300 sigmoid
    codings; KL to a 10 % target, weight 0.05, or L1 1e-4 per image) dense autoencoders on
    MNIST, Hands-On ML's settings, 10 epochs each like ``dense-ae``."""
    (x, _), (xt, _) = data("mnist", args, args.limit)
    rng = np.random.default_rng(0)
    noisy = np.clip(xt[:10] + rng.normal(0, 0.2, xt[:10].shape), 0, 1).astype(np.float32)
    rows = {"noisy input": noisy}
    noisy_test = np.clip(xt + rng.normal(0, 0.2, xt.shape), 0, 1).astype(np.float32)
    results["noisy-input/mnist"] = {"mse_to_clean": float(np.mean((noisy_test - xt) ** 2))}
    plain = args.workdir / "dense_ae_mnist.npz"
    if plain.is_file():  # the plain autoencoder of --parts dense-ae, on the same noisy set
        from chainrule import io

        model = dense_autoencoder((1, 28, 28), hidden=(100,), code_size=30)
        model.load_state_dict(io.load(plain))
        results["noisy-input/mnist"]["plain_ae_mse_to_clean"] = float(np.mean(
            (model.reconstruct(noisy_test) - xt) ** 2, dtype=np.float64))
    for kind, kw in (("noise", {"noise": 0.2}), ("dropout", {"dropout": 0.5})):
        manual_seed(SEED)
        model = dense_autoencoder((1, 28, 28), hidden=(100,), code_size=30, **kw)
        secs = fit(model, nn.MSELoss(), Adam(model.parameters(), lr=1e-3), x, args.ae_epochs,
                   64, SEED)
        key = f"denoising-ae-{kind}/mnist"
        results[key] = {"test_mse": mse(model, xt),
                        "test_mse_from_noisy": float(np.mean(
                            (model.reconstruct(noisy_test) - xt) ** 2, dtype=np.float64)),
                        "epochs": args.ae_epochs, "seconds": secs}
        print(key, results[key], flush=True)
        rows[f"denoised ({kind})"] = model.reconstruct(noisy)
    pictures.plot_reconstructions(xt[:10], rows, FIGURES / "repr_denoising.png",
                                  value_range=(0, 1),
                                  title="denoising autoencoders on noisy test digits")
    for name, sparsity in (("dense", None), ("kl", ("kl", 0.1, 0.05)), ("l1", ("l1", 1e-4))):
        manual_seed(SEED)
        model = dense_autoencoder((1, 28, 28), hidden=(100,), code_size=300,
                                  code_activation="sigmoid", sparsity=sparsity)
        secs = fit(model, nn.MSELoss(), Adam(model.parameters(), lr=1e-3), x, args.ae_epochs,
                   64, SEED, regularizer=lambda m: m.regularization())
        codes = model.encode(xt)
        key = f"sparse-ae-{name}/mnist"
        results[key] = {"test_mse": mse(model, xt), "mean_coding": float(codes.mean()),
                        "share_codings_below_0.1": float(np.mean(codes < 0.1)),
                        "epochs": args.ae_epochs, "seconds": secs}
        print(key, results[key], flush=True)


def book_ae(args: argparse.Namespace, results: dict[str, Any]) -> None:
    (x, _), (xt, _) = data("mnist", args, args.limit)
    x, xt = 2 * x - 1, 2 * xt - 1
    manual_seed(SEED)
    model = dlfs_conv_autoencoder(28)
    secs = fit(model, nn.MSELoss(), SGD(model.parameters(), lr=0.01, momentum=0.9), x, 1, 60,
               SEED)
    results["book-conv-ae/mnist"] = {"test_mse": mse(model, xt), "epochs": 1, "seconds": secs,
                                     "book_test_mse": 0.0693}
    print("book-conv-ae", results["book-conv-ae/mnist"], flush=True)


def conv_ae(args: argparse.Namespace, results: dict[str, Any]) -> None:
    for name in ("mnist", "fashion-mnist"):
        (x, _), (xt, _) = data(name, args, args.limit)
        x, xt = 2 * x - 1, 2 * xt - 1
        manual_seed(SEED)
        model = conv_autoencoder((1, 28, 28), channels=(16, 32), code_size=28, output="tanh")
        secs = fit(model, nn.MSELoss(), Adam(model.parameters(), lr=1e-3), x, 1, 32, SEED)
        key = f"conv-ae/{name}"
        results[key] = {"test_mse": mse(model, xt), "epochs": 1, "seconds": secs,
                        "params": sum(p.size for p in model.parameters())}
        print(key, results[key], flush=True)
        tag = name.replace("-mnist", "")
        pictures.plot_reconstructions(xt[:10], model.reconstruct(xt[:10]),
                                      FIGURES / f"repr_conv_ae_{tag}.png", value_range=(-1, 1),
                                      title=f"conv autoencoder (28 codings), one epoch, {name}")


def vae(args: argparse.Namespace, results: dict[str, Any]) -> None:
    (x, y), (xt, yt) = data("mnist", args, args.limit)
    for latent in (10, 2):
        manual_seed(SEED)
        model = dense_vae((1, 28, 28), hidden=(150, 100), latent_size=latent)
        secs = fit(model, nn.BCEWithLogitsLoss(), Adam(model.parameters(), lr=1e-3), x,
                   args.vae_epochs, 128, SEED, regularizer=lambda m: m.regularization())
        key = f"vae-{latent}/mnist"
        results[key] = {"test_negative_elbo": model.negative_elbo(xt),
                        "test_negative_elbo_mean_z": model.negative_elbo(xt, sample=False),
                        "test_mse": mse(model, xt), "epochs": args.vae_epochs,
                        "seconds": secs}
        print(key, results[key], flush=True)
        pictures.image_grid(model.generate(100, seed=0), FIGURES / f"repr_vae{latent}_samples.png",
                            ncols=10, value_range=(0, 1),
                            title=f"VAE (latent {latent}): samples from the prior")
        if latent == 2:
            pictures.plot_latent_grid(model.decode, FIGURES / "repr_vae2_manifold.png", n=15,
                                      value_range=(0, 1), title="VAE latent space (2-D)")
            mu, _ = model.encode(xt[:5000])
            pictures.plot_codings(mu, yt[:5000], FIGURES / "repr_vae2_codings.png",
                                  method="none", title="VAE means of MNIST test images")
        else:
            mu, _ = model.encode(xt[:8])
            pairs = [(mu[i], mu[i + 1]) for i in range(0, 8, 2)]
            pictures.plot_interpolation(model.decode, pairs, FIGURES / "repr_vae_interp.png",
                                        steps=10, value_range=(0, 1),
                                        title="VAE: decoding along lines between codings")


def _balanced_labels(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == k), per_class, replace=False)
                           for k in range(10)])


def _classifier_from(state: dict[str, Any] | None, seed: int) -> nn.Sequential:
    """The dense autoencoder's encoder (784-100-30, pretrained weights when ``state`` is
    given, else a fresh initialisation) followed by Dense(30 -> 10)."""
    manual_seed(seed)
    ae = dense_autoencoder((1, 28, 28), hidden=(100,), code_size=30)
    if state is not None:
        ae.load_state_dict(state)
    return nn.Sequential(ae.encoder, nn.Dense(30, 10))


def _fit_classifier(model: nn.Module, train: tuple[np.ndarray, np.ndarray],
                    test: tuple[np.ndarray, np.ndarray], epochs: int, lr: float,
                    seed: int) -> float:
    """Train the trainable parameters on ``train``; return the test accuracy in %."""
    params = [p for p in model.parameters() if p.requires_grad]
    trainer = Trainer(model, nn.CrossEntropyLoss(), Adam(params, lr=lr))
    trainer.fit(train, epochs=epochs, batch_size=32, seed=seed, verbose=False)
    return 100 * trainer.evaluate(test)["accuracy"]


def pretrain(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Few labels: pretrained encoder (frozen, then fine-tuned) against from scratch."""
    from chainrule import io

    (x, y), (xt, yt) = data("mnist", args, args.limit)
    path = args.workdir / "dense_ae_mnist.npz"
    if not path.is_file():
        raise SystemExit(f"run --parts dense-ae first (it writes {path})")
    accs: dict[str, list[float]] = {"scratch": [], "frozen": [], "fine-tuned": []}
    for s in range(args.seeds):
        idx = _balanced_labels(y, 50, SEED + s)
        few = (x[idx], y[idx])
        accs["scratch"].append(_fit_classifier(_classifier_from(None, SEED + s), few, (xt, yt),
                                               args.pretrain_epochs, 1e-3, SEED + s))
        model = _classifier_from(io.load(path), SEED + s)
        model[0].requires_grad_(False)
        accs["frozen"].append(_fit_classifier(model, few, (xt, yt), args.pretrain_epochs, 1e-3,
                                              SEED + s))
        model[0].requires_grad_(True)
        accs["fine-tuned"].append(_fit_classifier(model, few, (xt, yt), args.pretrain_epochs,
                                                  1e-4, SEED + s))
        print(f"label draw {s}:", {k: v[-1] for k, v in accs.items()}, flush=True)
    results["pretrain/mnist-500"] = {
        k: {"mean": statistics.fmean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0,
            "runs": v} for k, v in accs.items()}
    print("pretrain", results["pretrain/mnist-500"], flush=True)


def _classifier(name: str, args: argparse.Namespace) -> Any:
    """A chainrule ``cnn`` trained 2 epochs on the dataset's training images ([-1, 1])."""
    (x, y), (xt, yt) = data(name, args, args.limit)
    manual_seed(SEED)
    model = build_model("cnn", (1, 28, 28), 10)
    trainer = Trainer(model, nn.CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3))
    trainer.fit((2 * x - 1, y), epochs=2, batch_size=64, seed=SEED, verbose=False)
    acc = 100 * trainer.evaluate((2 * xt - 1, yt))["accuracy"]
    print(f"classifier for {name}: {acc:.2f} % on the real test images", flush=True)
    return trainer, acc


def gan(args: argparse.Namespace, results: dict[str, Any]) -> None:
    (x, y), _ = data("mnist", args, args.limit)
    x = 2 * x - 1
    manual_seed(SEED)
    g = GAN(dense_generator(30, (1, 28, 28), hidden=(128, 256), num_classes=10),
            dense_discriminator((1, 28, 28), hidden=(256, 128), num_classes=10),
            latent_size=30, num_classes=10, label_smoothing=0.1)
    grid = SampleGrid(args.workdir / "gan" / "epoch_{epoch:03d}.png", n=100, seed=0)
    start = time.perf_counter()
    history = g.fit(x, y, epochs=args.gan_epochs, batch_size=64, seed=SEED,
                    callbacks=[grid], verbose=False)
    secs = time.perf_counter() - start
    trainer, real_acc = _classifier("mnist", args)
    labels = np.repeat(np.arange(10), 100)
    fake = g.sample(1000, labels=labels, seed=1)
    pred = trainer.predict(fake).argmax(axis=1)
    per_class = [float(np.mean(pred[labels == k] == k)) * 100 for k in range(10)]
    results["cgan/mnist"] = {"classifier_accuracy_on_generated": float(np.mean(pred == labels))
                             * 100, "per_class": per_class, "classifier_test_accuracy": real_acc,
                             "epochs": args.gan_epochs, "seconds": secs,
                             "last_epoch": _last(history)}
    print("cgan", results["cgan/mnist"], flush=True)
    pictures.image_grid(g.sample(100, labels=np.repeat(np.arange(10), 10), seed=2),
                        FIGURES / "repr_cgan_mnist.png", ncols=10, value_range=(-1, 1),
                        title=f"conditional GAN, {args.gan_epochs} epochs: row k asks for digit k")


def dcgan(args: argparse.Namespace, results: dict[str, Any]) -> None:
    (x, _), _ = data("fashion-mnist", args, args.limit)
    x = 2 * x - 1
    manual_seed(SEED)
    g = GAN(dcgan_generator(100, (1, 28, 28), channels=(64, 32), kernel_size=4),
            dcgan_discriminator((1, 28, 28), channels=(32, 64), kernel_size=4),
            latent_size=100)
    grid = SampleGrid(args.workdir / "dcgan" / "epoch_{epoch:03d}.png", n=100, seed=0)
    start = time.perf_counter()
    history = g.fit(x, epochs=args.dcgan_epochs, batch_size=64, seed=SEED, callbacks=[grid],
                    verbose=False)
    secs = time.perf_counter() - start
    trainer, real_acc = _classifier("fashion-mnist", args)
    pred = trainer.predict(g.sample(2000, seed=1)).argmax(axis=1)
    share = np.bincount(pred, minlength=10) / len(pred) * 100
    results["dcgan/fashion-mnist"] = {
        "predicted_class_share": share.tolist(), "classifier_test_accuracy": real_acc,
        "epochs": args.dcgan_epochs, "seconds": secs, "last_epoch": _last(history)}
    print("dcgan", results["dcgan/fashion-mnist"], flush=True)
    pictures.image_grid(g.sample(100, seed=2), FIGURES / "repr_dcgan_fashion.png", ncols=10,
                        value_range=(-1, 1), title=f"DCGAN, {args.dcgan_epochs} epochs")
    rng = np.random.default_rng(3)
    z = rng.standard_normal((8, 100)).astype(np.float32)
    pairs = [(z[i], z[i + 1]) for i in range(0, 8, 2)]
    pictures.plot_interpolation(g.generate, pairs, FIGURES / "repr_dcgan_interp.png",
                                steps=10, method="slerp", value_range=(-1, 1),
                                title="DCGAN: slerp between latent points")


def _last(history: Any) -> dict[str, float]:
    rows = history if isinstance(history, list) else getattr(history, "history", history)
    if isinstance(rows, list):
        return {k: float(v) for k, v in rows[-1].items()}
    return {k: float(v[-1]) for k, v in rows.items()}


PARTS = {"dense-ae": dense_ae, "denoise-sparse": denoise_sparse, "book-ae": book_ae,
         "conv-ae": conv_ae, "vae": vae, "pretrain": pretrain, "gan": gan, "dcgan": dcgan}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--parts", default=",".join(PARTS))
    p.add_argument("--ae-epochs", type=int, default=10)
    p.add_argument("--vae-epochs", type=int, default=20)
    p.add_argument("--pretrain-epochs", type=int, default=200)
    p.add_argument("--gan-epochs", type=int, default=30)
    p.add_argument("--dcgan-epochs", type=int, default=5)
    p.add_argument("--seeds", type=int, default=3, help="label draws in --parts pretrain")
    p.add_argument("--quick", action="store_true", help="tiny subsets: a smoke run")
    p.add_argument("--workdir", type=Path, default=ROOT / "runs" / "representation")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = p.parse_args()
    args.limit = 1200 if args.quick else None
    if args.quick:
        for name in ("ae_epochs", "vae_epochs", "gan_epochs", "dcgan_epochs"):
            setattr(args, name, 1)
        args.pretrain_epochs, args.seeds = 5, 1
    args.workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    if args.out and args.out.is_file():
        results = json.loads(args.out.read_text())
    for part in args.parts.split(","):
        if part not in PARTS:
            raise SystemExit(f"unknown part {part!r}; known: {', '.join(PARTS)}")
        PARTS[part](args, results)
        if args.out:
            args.out.write_text(json.dumps(results, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
