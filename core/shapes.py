"""Every layer a model applies, in order, with the shape of what it takes and gives for one image.

``ModelSpec.layer_shapes()`` answers from these functions, without flax and without compiling: the
Build page draws ``28x28x1 -> 28x28x32 -> 14x14x32 -> ... -> 10`` from it, ``core.costs`` counts
parameters and operations on it, ``core.models`` builds the flax modules from it, and a stack it
cannot place is refused here with a SpecError naming the item (a convolution after the first Dense
layer, pooling below 1x1, a kernel larger than its image, a ConvTranspose outside a decoder, a decoder
whose images cannot grow back to 28x28).

Images keep their shape (height, width, channels) until the first Dense layer, which flattens them.
A stack without image layers flattens the image first, as earlier versions did (so a BatchNorm before
the first Dense layer still normalises each of the 784 pixels). An autoencoder's decoder with image
layers maps the code with a Dense layer (relu) to the smallest image that its layers grow back to
28x28 (7x7 for two ConvTranspose layers), with the channels of its first image layer; a last
1-channel 3x3 convolution (then the sigmoid) makes the image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.conv_layers import Conv
from core.errors import SpecError
from core.i18n import N_
from core.layers import Dense, Layer, Shape, shape_text

#: What the autoencoder's fixed layers do: make the decoder's first image, or the reconstruction.
PROJECTION_ACTIVATION = "relu"


@dataclass(frozen=True)
class PlacedLayer:
    """One layer where the model applies it."""

    layer: Layer
    stack: str  # "hidden", "encoder" or "decoder": the stack (and flax submodule) that applies it
    index: int | None  # its place in ``spec.layers``; None for a layer the model adds itself
    input_shape: Shape  # what it is given for one image (after the reshape, if ``reshaped``)
    output_shape: Shape
    role: str  # "hidden", "code", "output", "reconstruction" or "image" (maps a code to the decoder's first image)
    reshaped: bool = False  # the values are reshaped to ``input_shape`` first (flattened, or made an image)

    @property
    def parameters(self) -> int:
        return self.layer.parameter_count(self.input_shape)

    @property
    def batch_stats(self) -> int:
        return self.layer.batch_stats_count(self.input_shape)

    def module_items(self) -> tuple[tuple, ...]:
        """Its tuples for ``core.models.MLP``: ``(conv, 32, 3, "relu")``, after ``(reshape, 7, 7, 64)``
        when the values change shape before it (the functions of ``core.flax_layers``)."""
        from core.flax_layers import reshape

        item = self.layer.module_item()
        return ((reshape, *self.input_shape), item) if self.reshaped else (item,)

    def describe(self) -> str:
        """``"conv 32 3x3 relu: 28x28x1 -> 28x28x32"``."""
        return f"{self.layer.describe()}: {shape_text(self.input_shape)} -> {shape_text(self.output_shape)}"


def place_stack(
    stack: str, layers: Sequence[Layer], shape: Shape, start: int, code_index: int | None = None
) -> tuple[list[PlacedLayer], Shape]:
    """The layers of one stack given values of ``shape`` (``start``: the first one's place in
    ``spec.layers``), and the shape the stack gives. Refuses a ConvTranspose outside a decoder."""
    placed: list[PlacedLayer] = []
    flatten_first = len(shape) > 1 and not any(layer.image_layer for layer in layers)
    for i, layer in enumerate(layers):
        where = f"{stack}[{i}]"
        if layer.decoder_only and stack != "decoder":
            raise SpecError(
                where,
                N_(
                    "{layer_title} grows an image twice as tall and wide: it belongs in an "
                    "autoencoder's decoder, not in a classifier or an encoder"
                ),
                layer_title=layer.title,
            )
        if stack == "decoder" and layer.image_layer and len(shape) == 1:
            projection, shape = _decoder_image(layers[i:], shape, where)
            placed.append(projection)
            reshaped = True
        else:
            reshaped = flatten_first and i == 0 and not layer.is_dense
            shape = (math.prod(shape),) if reshaped else shape
            if stack == "decoder" and layer.is_dense and any(one.image_layer for one in layers[:i]):
                raise SpecError(
                    where,
                    N_(
                        "a Dense layer after the decoder's image layers would flatten the image again; "
                        "put Dense layers before its first ConvTranspose"
                    ),
                )
        out = layer.output_shape(shape, where)
        role = "code" if start + i == code_index else "hidden"
        placed.append(PlacedLayer(layer, stack, start + i, shape, out, role, reshaped))
        shape = out
    return placed, shape


def _decoder_image(layers: Sequence[Layer], code: Shape, where: str) -> tuple[PlacedLayer, Shape]:
    """The Dense layer mapping a decoder's values to the smallest image its image ``layers`` grow back
    to 28x28, and that image's shape."""
    growth = math.prod(layer.growth for layer in layers)
    side = 28 / growth
    if side != int(side) or side < 1:
        raise SpecError(
            where,
            N_(
                "the decoder's image layers make an image {growth:g} times as tall and wide as "
                "the one they start from, and no whole image grows to 28x28 that way "
                "({side:g}x{side:g}); use one or two ConvTranspose layers (from 14x14 or 7x7)"
            ),
            growth=growth,
            side=side,
        )
    channels = layers[0].image_channels()
    if channels is None:
        raise SpecError(where, N_("the decoder's first image layer must be a ConvTranspose or Conv layer: its "
                                  "channels set the image that the code is mapped to"))  # fmt: skip
    image = (int(side), int(side), channels)
    projection = Dense(math.prod(image), PROJECTION_ACTIVATION)
    return PlacedLayer(projection, "decoder", None, code, projection.output_shape(code), "image"), image


def place_output(stack: str, layer: Layer, shape: Shape, role: str) -> PlacedLayer:
    """A fixed last layer the model adds (the classifier's output, the autoencoder's reconstruction)."""
    return PlacedLayer(layer, stack, None, shape, layer.output_shape(shape, stack), role)


def reconstruction_layer(shape: Shape, pixels: int) -> Layer:
    """The autoencoder's last layer: a 1-channel 3x3 convolution on an image, a Dense layer of ``pixels``
    units on flat values (as in earlier versions); both linear, the sigmoid follows."""
    return Conv(1, 3, "linear") if len(shape) == 3 else Dense(pixels, "linear")
