"""Ready-made models.

* Classifiers (:mod:`.classifiers`): ``build_model("mlp", input_shape=(8, 8),
  num_classes=10)``; builders registered by name in :data:`MODELS` ("mlp", "cnn").
* Autoencoders (:mod:`.autoencoders`): :func:`dense_autoencoder` (stacked, tied,
  denoising, sparse), :func:`conv_autoencoder`, :func:`dlfs_conv_autoencoder`, all
  returning an :class:`Autoencoder`; sparsity penalties :func:`l1_activity`,
  :func:`kl_sparsity`.
* Variational autoencoders (:mod:`.vae`): :class:`VAE`, :func:`dense_vae`,
  :func:`conv_vae`.
* GANs (:mod:`.gan`): :class:`GAN` (the alternating training loop, label smoothing,
  conditioning), :func:`dense_generator` / :func:`dense_discriminator`,
  :func:`dcgan_generator` / :func:`dcgan_discriminator`, the per-epoch :class:`SampleGrid`.

``chainrule train --model autoencoder|conv-autoencoder|vae|gan|dcgan`` trains them from
the command line; docs/representation.md has the results on MNIST and Fashion-MNIST.
"""

from .autoencoders import (
    Autoencoder,
    KLSparsity,
    L1Sparsity,
    conv_autoencoder,
    dense_autoencoder,
    dlfs_conv_autoencoder,
    kl_sparsity,
    l1_activity,
)
from .classifiers import MODELS, Reshape, build_model, cnn, image_shape, mlp
from .gan import (
    GAN,
    Discriminator,
    Generator,
    SampleGrid,
    dcgan_discriminator,
    dcgan_generator,
    dense_discriminator,
    dense_generator,
)
from .vae import VAE, conv_vae, dense_vae, gaussian_kl, reparameterize

__all__ = ["MODELS", "Reshape", "build_model", "cnn", "image_shape", "mlp",
           "Autoencoder", "KLSparsity", "L1Sparsity", "conv_autoencoder", "dense_autoencoder",
           "dlfs_conv_autoencoder", "kl_sparsity", "l1_activity",
           "VAE", "conv_vae", "dense_vae", "gaussian_kl", "reparameterize",
           "GAN", "Discriminator", "Generator", "SampleGrid", "dcgan_discriminator",
           "dcgan_generator", "dense_discriminator", "dense_generator"]
