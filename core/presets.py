"""Ready-made models the Build page offers (and the pages start from): a name, a sentence, a spec."""

from __future__ import annotations

from core.spec import Layer, MLPSpec, ModelSpec

#: Ready-made models offered in the layer editor: name -> (description, spec).
PRESETS: dict[str, tuple[str, ModelSpec]] = {
    "MNIST classifier (default)": (
        "A two-hidden-layer MLP, 784-512-256-10: about 97% on MNIST test digits.",
        ModelSpec.mlp((512, 256)),
    ),
    "MNIST classifier with batch norm and dropout": (
        "784-512-256-10 with BatchNorm after each hidden layer and Dropout (rate 0.2) before the output: "
        "the two most used controls against overfitting.",
        MLPSpec(hidden=(Layer(512), Layer.batchnorm(), Layer(256), Layer.batchnorm(), Layer.dropout(0.2))),
    ),
    "MNIST autoencoder (default)": (
        "Squeezes each digit through 16 numbers and rebuilds it: 784-256-64-[16]-64-256-784.",
        ModelSpec.autoencoder((256, 64, 16), (64, 256)),
    ),
    "Tiny MLP (flax intro 12-8-4)": (
        "The MLP of the flax.linen introduction, features 12-8-4, with a 10-class output for MNIST.",
        ModelSpec.mlp((12, 8, 4)),
    ),
    "Tiny autoencoder (flax intro 20-10-5)": (
        "The AutoEncoder of the flax.linen introduction: encoder 20-10-5, decoder 5-10-20.",
        ModelSpec.autoencoder((20, 10, 5), (5, 10, 20)),
    ),
    "2-D latent autoencoder": (
        "A code of just 2 numbers, so every digit becomes a point on a map.",
        ModelSpec.autoencoder((256, 64, 2), (64, 256)),
    ),
}
