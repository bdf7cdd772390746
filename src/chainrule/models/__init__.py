"""Ready-made models.

* Classifiers (:mod:`.classifiers`): ``build_model("mlp", input_shape=(8, 8),
  num_classes=10)``; builders registered by name in :data:`MODELS` ("mlp", "cnn").
"""

from .classifiers import MODELS, Reshape, build_model, cnn, image_shape, mlp

__all__ = ["MODELS", "Reshape", "build_model", "cnn", "image_shape", "mlp"]
