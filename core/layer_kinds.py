"""The one registry of the kinds of layer, by the name the JSON, the editor and the command line use.

Adding a kind of layer is one class (in ``core.layers``, ``core.norm_layers``, ``core.conv_layers`` or a
module of its own, its flax call in ``core.flax_layers`` returned by its ``flax_call``) listed here
(docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from core.conv_layers import AvgPool, Conv, ConvTranspose, MaxPool
from core.layers import Dense, Layer
from core.norm_layers import BatchNorm, Dropout, LayerNorm

KINDS: tuple[type[Layer], ...] = (Dense, Dropout, BatchNorm, LayerNorm, Conv, MaxPool, AvgPool, ConvTranspose)
LAYER_KINDS: dict[str, type[Layer]] = {kind.name: kind for kind in KINDS}
