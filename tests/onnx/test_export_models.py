"""``chainrule.onnx.export`` on the library's models: every file passes
``onnx.checker.check_model`` and, run in onnxruntime (CPU), gives chainrule's outputs
within rtol 1e-4, atol 1e-5 (float32), at the example's batch size and at another one
(the batch axis is dynamic)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the [onnx] extra")
ort = pytest.importorskip("onnxruntime", reason="running exported files needs onnxruntime")

import chainrule as cr  # noqa: E402
from chainrule import nn  # noqa: E402
from chainrule.models import create_model  # noqa: E402
from chainrule.nn.module import evaluating  # noqa: E402


def _rng() -> np.random.Generator:
    return np.random.default_rng(16)


def _floats(*shape: int) -> np.ndarray:
    return _rng().random(shape, dtype=np.float32)


def _session(path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def roundtrip(model, example, others, tmp_path, **kw) -> list[str]:
    """Export ``model`` with ``example``; check the file and compare onnxruntime's outputs
    with the model's on ``example`` and each of ``others`` (tuples of inputs)."""
    path = tmp_path / "model.onnx"
    cr.manual_seed(0)
    cr.onnx.export(model, example, path, **kw)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = _session(path)
    names = [i.name for i in session.get_inputs()]
    for inputs in [example, *others]:
        inputs = inputs if isinstance(inputs, tuple) else (inputs,)
        with evaluating(model):
            want = model(*inputs)
        want = want if isinstance(want, tuple) else (want,)
        got = session.run(None, dict(zip(names, inputs)))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w.data, rtol=1e-4, atol=1e-5)
    return names


def test_mlp_with_dropout_exports_in_eval_mode(tmp_path):
    cr.manual_seed(1)
    model = create_model("mlp", (28, 28), 10, hidden=(64, 32), dropout=0.5)
    model.train()
    roundtrip(model, _floats(4, 28, 28), [_floats(9, 28, 28), _floats(1, 28, 28)], tmp_path)
    assert model.training and all(m.training for m in model.modules())  # mode restored


def test_cnn_model(tmp_path):
    cr.manual_seed(2)
    model = create_model("cnn", (1, 28, 28), 10, channels=(8, 16), hidden=32)
    roundtrip(model, _floats(3, 1, 28, 28), [_floats(5, 1, 28, 28)], tmp_path)


def test_conv_net_with_batch_norm_uses_running_statistics(tmp_path):
    cr.manual_seed(3)
    bn = nn.BatchNorm2d(6)
    bn.running_mean[...] = _rng().standard_normal(6)
    bn.running_var[...] = _rng().uniform(0.5, 2.0, 6)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, stride=2), bn, nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Dense(6 * 4 * 4, 5))
    roundtrip(model, _floats(2, 3, 16, 16), [_floats(7, 3, 16, 16)], tmp_path)


class _Classifier(nn.Module):
    """A recurrent layer's last output -> Dense logits."""

    def __init__(self, kind: str, **kw) -> None:
        super().__init__()
        self.rnn = getattr(nn, kind)(6, 12, return_sequences=False, **kw)
        self.out = nn.Dense(24 if kw.get("bidirectional") else 12, 4)

    def forward(self, x):
        return self.out(self.rnn(x))


@pytest.mark.parametrize("kind, kw", [("LSTM", {}), ("LSTM", {"num_layers": 2}),
                                      ("LSTM", {"fused": False}), ("GRU", {}),
                                      ("GRU", {"bidirectional": True}), ("RNN", {})])
def test_recurrent_classifiers(kind, kw, tmp_path):
    cr.manual_seed(4)
    model = _Classifier(kind, **kw)
    roundtrip(model, _floats(3, 5, 6), [_floats(8, 5, 6)], tmp_path)


@pytest.mark.parametrize("name", ["autoencoder", "conv-autoencoder", "dlfs-conv-autoencoder"])
def test_autoencoders(name, tmp_path):
    cr.manual_seed(5)
    model = create_model(name)
    shape = (28, 28) if name == "autoencoder" else (1, 28, 28)
    roundtrip(model, _floats(2, *shape), [_floats(5, *shape)], tmp_path)


def test_gpt(tmp_path):
    cr.manual_seed(6)
    model = create_model("gpt", 13, context=16, layers=2, heads=2, width=16)
    ids = _rng().integers(0, 13, (2, 10))
    roundtrip(model, ids, [_rng().integers(0, 13, (5, 10))], tmp_path,
              input_names=["ids"], output_names=["logits"])


def test_transformer_with_two_inputs_and_a_causal_mask(tmp_path):
    cr.manual_seed(7)

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.t = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2,
                                    num_decoder_layers=1, dim_feedforward=16, batch_first=True)
            self.mask = nn.Transformer.generate_square_subsequent_mask(4)

        def forward(self, src, tgt):
            return self.t(src, tgt, tgt_mask=self.mask)

    names = roundtrip(Seq2Seq(), (_floats(2, 5, 8), _floats(2, 4, 8)),
                      [(_floats(6, 5, 8), _floats(6, 4, 8))], tmp_path)
    assert names == ["input_0", "input_1"]
