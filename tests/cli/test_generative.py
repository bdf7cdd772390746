"""``chainrule train --model autoencoder|conv-autoencoder|vae|gan|dcgan`` and
``chainrule generate`` for images, on the bundled digits (offline)."""

from __future__ import annotations

import argparse
import re

import numpy as np
import pytest

from chainrule import io
from chainrule.cli import _generative as cli_generative
from chainrule.cli import main as cli_main
from chainrule.cli.train import GENERATIVE_NAMES, add_train_parser, run_train

pytest.importorskip("matplotlib")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chainrule")
    add_train_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


def test_the_cli_knows_every_generative_model() -> None:
    assert tuple(cli_generative.GENERATIVE) == GENERATIVE_NAMES


PICTURES = {
    "autoencoder": ["reconstructions.png", "codings.png", "interpolation.png"],
    "conv-autoencoder": ["reconstructions.png", "codings.png", "interpolation.png"],
    "vae": ["reconstructions.png", "codings.png", "interpolation.png", "samples.png",
            "latent_grid.png"],
    "gan": ["samples.png", "interpolation.png", "samples/epoch_001.png"],
    "dcgan": ["samples.png", "interpolation.png", "samples/epoch_001.png"],
}


@pytest.mark.parametrize("model", GENERATIVE_NAMES)
def test_each_model_trains_on_digits_and_writes_checkpoint_and_pictures(
        model, tmp_path, capsys) -> None:
    extra = ["--latent-size", "2"] if model == "vae" else []
    code = run_train(parse("--model", model, "--epochs", "1", "--quiet",
                           "--out", str(tmp_path), *extra))
    out = capsys.readouterr().out
    assert code == 0, out
    for name in ["model.npz", "history.csv", "curves.png", *PICTURES[model]]:
        assert (tmp_path / name).stat().st_size > 0, name
    saved = io.load(tmp_path / "model.npz")
    assert saved["config"]["model"] == model
    if model in ("gan", "dcgan"):
        assert re.search(r"^d loss: \d+\.\d{4}$", out, re.M)
    else:
        mse = float(re.search(r"^test mse: (\d+\.\d+)$", out, re.M).group(1))
        assert 0 < mse < 0.2 and abs(mse - saved["results"]["test_mse"]) < 1e-4
    if model == "vae":
        assert saved["results"]["test_negative_elbo"] > 0


def test_a_checkpoint_rebuilds_the_trained_model(tmp_path) -> None:
    assert run_train(parse("--model", "autoencoder", "--epochs", "2", "--quiet",
                           "--out", str(tmp_path))) == 0
    model, config = cli_generative.load_generative(tmp_path / "model.npz")
    x = np.random.default_rng(0).random((5, *config["image_shape"])).astype(np.float32)
    state = io.load(tmp_path / "model.npz")["model"]
    fresh = cli_generative.build_generative(config)
    assert not np.allclose(fresh.reconstruct(x), model.reconstruct(x))
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.reconstruct(x), model.reconstruct(x))


def test_generate_draws_images_from_vae_and_conditional_gan(tmp_path, capsys) -> None:
    assert run_train(parse("--model", "vae", "--epochs", "1", "--quiet",
                           "--out", str(tmp_path / "vae"))) == 0
    assert run_train(parse("--model", "gan", "--conditional", "--label-smoothing", "0.1",
                           "--epochs", "1", "--quiet", "--out", str(tmp_path / "gan"))) == 0
    capsys.readouterr()
    assert cli_main(["generate", "--checkpoint", str(tmp_path / "vae" / "model.npz"),
                     "--n", "12", "--out", str(tmp_path / "v.png")]) == 0
    assert cli_main(["generate", "--checkpoint", str(tmp_path / "gan" / "model.npz"),
                     "--label", "7", "--out", str(tmp_path / "g.png")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "v.png").stat().st_size > 0 and (tmp_path / "g.png").stat().st_size > 0
    config = io.load(tmp_path / "gan" / "model.npz")["config"]
    assert config["conditional_classes"] == 10 and config["label_smoothing"] == 0.1


BAD_TRAIN = [
    (["--model", "vae", "--latent-size", "0"], "--latent-size must be a positive integer"),
    (["--model", "gan", "--latent-size", "-3"], "--latent-size must be a positive integer"),
    (["--model", "gan", "--label-smoothing", "1"], "--label-smoothing must be in [0, 1)"),
    (["--model", "autoencoder", "--conditional"], "are for --model gan or dcgan"),
    (["--model", "vae", "--epochs", "0"], "--epochs must be a positive integer"),
    (["--model", "dcgan", "--dataset", "cifar"], "unknown dataset 'cifar'"),
    (["--model", "gan", "--optimizer", "adamw"], "unknown optimizer 'adamw'"),
    (["--model", "autoencoders"], "unknown model 'autoencoders'; known: cnn, mlp, autoencoder"),
]


@pytest.mark.parametrize("argv, message", BAD_TRAIN)
def test_bad_arguments_give_one_line_and_exit_code_2(argv, message, tmp_path, capsys) -> None:
    assert run_train(parse(*argv, "--out", str(tmp_path / "o"))) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_images_too_small_for_the_conv_stack_are_refused(tmp_path, capsys, monkeypatch) -> None:
    from chainrule.cli import datasets

    tiny = np.zeros((40, 1, 1)), np.arange(40) % 10
    monkeypatch.setitem(datasets.DATASETS, "digits", lambda args: (tiny, None, tiny))
    assert run_train(parse("--model", "dcgan", "--out", str(tmp_path))) == 2
    err = capsys.readouterr().err
    assert "does not fit digits (images of shape (1, 1, 1))" in err, err


@pytest.fixture(scope="module")
def vae_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("vae")
    assert run_train(parse("--model", "vae", "--epochs", "1", "--quiet", "--out", str(out))) == 0
    return out / "model.npz"


def test_a_checkpoint_of_another_architecture_names_what_does_not_fit(
        vae_checkpoint, tmp_path, capsys) -> None:
    data = io.load(vae_checkpoint)
    data["config"]["latent_size"] = 3  # the weights were trained with 10
    io.save(data, tmp_path / "other.npz")
    assert cli_main(["generate", "--checkpoint", str(tmp_path / "other.npz"),
                     "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "do not fit a vae with [1, 8, 8] images and latent size 3" in err
    assert "shape mismatch" in err and "expected (3, 100), got (10, 100)" in err
    with pytest.raises(ValueError, match="do not fit a vae"):
        cli_generative.load_generative(tmp_path / "other.npz")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["--label", "3"], "--label 3 does not fit: the model is not conditional"),
    (["--n", "0"], "--n must be a positive integer"),
])
def test_generate_refuses_bad_requests(argv, message, vae_checkpoint, tmp_path, capsys) -> None:
    assert cli_main(["generate", "--checkpoint", str(vae_checkpoint), *argv,
                     "--out", str(tmp_path / "x.png")]) == 2
    assert message in capsys.readouterr().err


def test_generate_refuses_plain_autoencoders(tmp_path, capsys) -> None:
    assert run_train(parse("--model", "autoencoder", "--epochs", "1", "--quiet",
                           "--out", str(tmp_path))) == 0
    assert cli_main(["generate", "--checkpoint", str(tmp_path / "model.npz"),
                     "--out", str(tmp_path / "x.png")]) == 2
    assert "no prior to sample from" in capsys.readouterr().err


def test_without_matplotlib_it_says_what_to_install(tmp_path, capsys, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert run_train(parse("--model", "vae", "--out", str(tmp_path / "o"))) == 2
    assert "pip install 'chainrule[viz]'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
