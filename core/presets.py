"""Ready-made models the Build page offers (and the pages start from): a name, a sentence, a spec."""

from __future__ import annotations

from core.i18n import N_
from core.layer_items import parse_layers
from core.spec import AutoEncoderSpec, Layer, MLPSpec, ModelSpec

#: Ready-made models offered in the layer editor: name -> (description, spec); the name and the
#: description are marked for the catalogue (a page shows them through ``_()``).
PRESETS: dict[str, tuple[str, ModelSpec]] = {
    N_("MNIST classifier (default)"): (
        N_("A two-hidden-layer MLP, 784-512-256-10: its accuracy on MNIST test digits is about 97%."),
        ModelSpec.mlp((512, 256)),
    ),
    N_("MNIST classifier with batch norm and dropout"): (
        N_(
            "784-512-256-10 with BatchNorm after each hidden layer and Dropout (rate 0.2) before the output: "
            "the two most used controls against overfitting."
        ),
        MLPSpec(hidden=(Layer(512), Layer.batchnorm(), Layer(256), Layer.batchnorm(), Layer.dropout(0.2))),
    ),
    N_("MNIST autoencoder (default)"): (
        N_("Squeezes each digit through 16 numbers and rebuilds it: 784-256-64-[16]-64-256-784."),
        ModelSpec.autoencoder((256, 64, 16), (64, 256)),
    ),
    N_("Tiny MLP (flax intro 12-8-4)"): (
        N_("The MLP of the flax.linen introduction, features 12-8-4, with a 10-class output for MNIST."),
        ModelSpec.mlp((12, 8, 4)),
    ),
    N_("Tiny autoencoder (flax intro 20-10-5)"): (
        N_("The AutoEncoder of the flax.linen introduction: encoder 20-10-5, decoder 5-10-20."),
        ModelSpec.autoencoder((20, 10, 5), (5, 10, 20)),
    ),
    N_("flax MNIST example (CNN)"): (
        N_(
            "The CNN of flax's MNIST example: Conv 32 3x3 relu, average pool 2x2, Conv 64 3x3 relu, average pool, "
            "Dense 256 relu, Dense 10. Convolutions look at small patches, so it learns strokes wherever they are: "
            "after 10 epochs of the bundled sample, its accuracy on real MNIST test digits is about 97%."
        ),
        MLPSpec(hidden=parse_layers("conv:32:3:relu, avgpool, conv:64:3:relu, avgpool, 256:relu", "hidden")),
    ),
    N_("Small CNN with batch norm and dropout"): (
        N_(
            "Conv 16 3x3, BatchNorm (per channel), max pool, Conv 32 3x3, BatchNorm, max pool, Dropout 0.25, "
            "Dense 128, Dropout 0.3, Dense 10: a small CNN with the usual controls against overfitting."
        ),
        MLPSpec(
            hidden=parse_layers(
                "conv:16, batchnorm, maxpool, conv:32, batchnorm, maxpool, dropout:0.25, 128, dropout:0.3", "hidden"
            )
        ),
    ),
    N_("Convolutional autoencoder"): (
        N_(
            "Conv 16 and 32 with max pools down to 7x7x32, a code of 32 numbers, then a Dense layer back to 7x7x32 "
            "and two ConvTranspose layers (14x14, 28x28) and a 1-channel conv rebuild the digit."
        ),
        AutoEncoderSpec(
            encoder=parse_layers("conv:16, maxpool, conv:32, maxpool, 32", "encoder", code_activation="linear"),
            decoder=parse_layers("convt:32, convt:16", "decoder"),
        ),
    ),
    N_("2-D latent autoencoder"): (
        N_("A code of just 2 numbers, so every digit becomes a point on a map."),
        ModelSpec.autoencoder((256, 64, 2), (64, 256)),
    ),
}
