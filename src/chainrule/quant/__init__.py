"""Int8 quantization (issue 19): post-training quantization with calibrated activation
ranges, and the structure that lets a saved quantized model load again.

    qmodel = cr.quantize(model, x_train[:500])     # a new model; ``model`` is unchanged
    cr.save_model(qmodel, "models/mnist-int8/1")   # int8 weights: about 4x smaller

Every ``Linear`` and ``Conv1d/2d/3d`` inside is wrapped in a :class:`QuantizedLayer`:

* weights: int8, symmetric, one scale per output channel (``scale = max|w| / 127``);
* the layer's input: asymmetric 8-bit (256 levels over the ``[min, max]`` seen on the
  calibration data), quantized and dequantized on every call.

The arithmetic is simulated in float32 (the int8 weights are dequantized at each call),
so the outputs are what an int8 kernel with float rescaling computes, up to float
rounding; the gain here is the size of the saved model, not speed. Other layers
(activations, pooling, normalisation, recurrent cells) stay in float32.

Quantization-aware training (:mod:`.qat`): :func:`prepare_qat` (fake quantization with
straight-through gradients), train, then :func:`convert` to the int8 model.
"""

from .ptq import (
    QUANTIZATION_ATTRIBUTE,
    QuantizedLayer,
    apply_structure,
    quantizable_layers,
    quantize,
)
from .qat import FakeQuantLayer, convert, prepare_qat  # quantization-aware training

__all__ = ["QUANTIZATION_ATTRIBUTE", "FakeQuantLayer", "QuantizedLayer", "apply_structure",
           "convert", "prepare_qat", "quantizable_layers", "quantize"]
