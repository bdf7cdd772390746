"""The model registry and the one checkpoint format: every registered model survives
save_model/load_model; bad files raise CheckpointError naming the file."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import io
from chainrule.errors import CheckpointError
from chainrule.models import (
    REGISTRY,
    create_model,
    list_models,
    load_model,
    register_model,
    save_model,
)
from chainrule.models.charlm import load_checkpoint as load_charlm
from chainrule.optim import Adam
from chainrule.random import manual_seed
from chainrule.train import load_checkpoint, save_checkpoint

# Small arguments for every registered model (the defaults are MNIST-sized).
SMALL = {
    "mlp": {"input_shape": (8, 8), "num_classes": 3, "hidden": (5,)},
    "cnn": {"input_shape": (1, 8, 8), "num_classes": 3, "channels": (2,), "hidden": 4},
    "autoencoder": {"input_shape": (8, 8), "hidden": (6,), "code_size": 3},
    "conv-autoencoder": {"input_shape": (1, 8, 8), "channels": (2, 3)},
    "dlfs-conv-autoencoder": {"hidden_dim": 4},
    "vae": {"input_shape": (8, 8), "hidden": (6,), "latent_size": 2},
    "conv-vae": {"input_shape": (1, 8, 8), "channels": (2, 3), "latent_size": 2},
    "gan": {"latent_size": 3, "image_shape": (1, 8, 8), "num_classes": 2},
    "dcgan": {"latent_size": 3, "image_shape": (1, 8, 8)},
    "dense-generator": {"latent_size": 3, "image_shape": (4,), "hidden": (5,)},
    "dense-discriminator": {"image_shape": (4,), "hidden": (5,)},
    "dcgan-generator": {"latent_size": 3, "image_shape": (1, 8, 8), "channels": (4, 2)},
    "dcgan-discriminator": {"image_shape": (1, 8, 8), "channels": (2, 4)},
    "char-lstm": {"vocab_size": 7, "hidden": 5, "layers": 1, "embed": 3},
    "gpt": {"vocab_size": 7, "context": 6, "layers": 1, "heads": 2, "width": 4},
    "seq2seq": {"src_vocab": 6, "tgt_vocab": 5, "embed_dim": 3, "hidden": 4,
                "attention": "luong"},
    "transformer-seq2seq": {"src_vocab": 6, "tgt_vocab": 5, "d_model": 4, "nhead": 2,
                            "dim_feedforward": 8, "max_len": 8},
}


def _flat(state, prefix=""):
    for key, value in state.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}/")
        elif isinstance(value, np.ndarray):
            yield f"{prefix}{key}", value


def test_every_ready_made_model_is_registered():
    assert set(list_models()) == set(SMALL)
    assert list_models("classifier") == ["cnn", "mlp"]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_save_and_load_round_trip(tmp_path, name):
    manual_seed(0)
    model = create_model(name, **SMALL[name])
    path = tmp_path / f"{name}.npz"
    save_model(model, path, epoch=3, note="hello")
    manual_seed(1)  # a different initialisation: the weights must come from the file
    loaded = load_model(path)
    assert type(loaded) is type(model)
    want, got = dict(_flat(model.state_dict())), dict(_flat(loaded.state_dict()))
    assert want.keys() == got.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    meta = io.read_checkpoint(path)
    assert meta["architecture"]["name"] == name and (meta["epoch"], meta["note"]) == (3, "hello")


def test_public_names_and_optimizer_state(tmp_path):
    model = create_model("mlp", (8, 8), 3, hidden=(5,))  # positional arguments are named
    opt = Adam(model.parameters(), lr=1e-3)
    model(np.ones((2, 8, 8), np.float32)).sum().backward()
    opt.step()
    cr.save_model(model, tmp_path / "m.npz", optimizer=opt)
    ckpt = io.read_checkpoint(tmp_path / "m.npz")
    assert ckpt["architecture"]["arguments"]["input_shape"] == (8, 8)
    again = cr.load_model(tmp_path / "m.npz")
    fresh = Adam(again.parameters(), lr=1e-3)
    fresh.load_state_dict(ckpt["optimizer"])
    assert fresh.state_dict()["state"][0]["step"] == 1


def test_trainer_checkpoints_of_registered_models_are_loadable(tmp_path):
    model = create_model("mlp", (4,), 2, hidden=(3,))
    save_checkpoint(tmp_path / "c.npz", model, epoch=1)
    np.testing.assert_array_equal(load_model(tmp_path / "c.npz")(np.ones((1, 4))).numpy(),
                                  model.eval()(np.ones((1, 4))).numpy())


def test_register_a_new_model(tmp_path):
    @register_model("tiny-test-mlp", kind="classifier")
    def tiny(input_shape, num_classes, width=4):
        return create_model("mlp", input_shape, num_classes, hidden=(width,))

    try:
        model = create_model("tiny-test-mlp", 6, 2, width=3)
        save_model(model, tmp_path / "t.npz")
        assert io.read_checkpoint(tmp_path / "t.npz")["architecture"]["name"] == "tiny-test-mlp"
        assert load_model(tmp_path / "t.npz")[1].weight.shape == (3, 6)  # (out, in)
        with pytest.raises(ValueError, match="already registered"):
            register_model("tiny-test-mlp")(lambda: None)
    finally:
        REGISTRY.pop("tiny-test-mlp")


def test_unknown_names_and_unbuilt_models():
    with pytest.raises(ValueError, match="unknown model 'resnet'; registered models: .*mlp"):
        create_model("resnet")
    from chainrule import nn

    with pytest.raises(ValueError, match="not built by create_model"):
        save_model(nn.Linear(2, 2), "never.npz")


# --------------------------------------------------------------------------- bad files


def test_corrupt_and_foreign_files_raise_checkpoint_error(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.npz"):
        load_model(bad)
    io.save({"weights": np.zeros(2)}, tmp_path / "other.npz")
    with pytest.raises(CheckpointError, match=r"other\.npz: not a model checkpoint"):
        load_model(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.npz")


def test_mismatched_checkpoints_raise_checkpoint_error(tmp_path):
    model = create_model("mlp", (4,), 2, hidden=(3,))
    path = tmp_path / "m.npz"
    save_model(model, path)
    ckpt = io.read_checkpoint(path)
    ckpt["architecture"]["arguments"]["hidden"] = (5,)  # weights no longer fit
    io.save(ckpt, tmp_path / "wrong.npz")
    with pytest.raises(CheckpointError, match=r"wrong\.npz: the saved weights do not fit"):
        load_model(tmp_path / "wrong.npz")
    with pytest.raises(CheckpointError, match=r"wrong\.npz: the saved weights do not fit"):
        load_checkpoint(tmp_path / "wrong.npz", create_model("mlp", (4,), 2, hidden=(5,)))
    ckpt["architecture"] = {"name": "no-such-model", "arguments": {}}
    io.save(ckpt, tmp_path / "unknown.npz")
    with pytest.raises(CheckpointError, match=r"unknown\.npz: architecture 'no-such-model'"):
        load_model(tmp_path / "unknown.npz")
    ckpt["architecture"] = {"name": "mlp", "arguments": {"colour": "red"}}
    io.save(ckpt, tmp_path / "args.npz")
    with pytest.raises(CheckpointError, match=r"args\.npz: cannot rebuild 'mlp'"):
        load_model(tmp_path / "args.npz")
    del ckpt["architecture"]
    io.save(ckpt, tmp_path / "bare.npz")
    with pytest.raises(CheckpointError, match=r"bare\.npz: .* no architecture"):
        load_model(tmp_path / "bare.npz")


def test_old_char_lstm_checkpoints_are_refused_with_advice(tmp_path):
    io.save({"kind": "char-lstm", "vocab": "ab", "arch": {"vocab_size": 2}, "config": {},
             "history": {}, "state": {"w": np.zeros(1)}}, tmp_path / "old.npz")
    for load in (load_charlm, load_model):
        with pytest.raises(CheckpointError, match=r"old\.npz: .*old format.*retrain"):
            load(tmp_path / "old.npz")
    save_model(create_model("mlp", (4,), 2), tmp_path / "mlp.npz")
    with pytest.raises(CheckpointError, match="not a char-lstm checkpoint"):
        load_charlm(tmp_path / "mlp.npz")
