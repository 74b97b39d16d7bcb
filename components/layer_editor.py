"""The layer-stack editor: add, remove, reorder and resize Dense and Conv layers (a Conv layer's channels,
kernel and activation), and place pooling, Dropout, BatchNorm and LayerNorm layers between them.

Every change goes through ``ModelSpec`` validation; an invalid value is refused inline
with the spec's own message and the model keeps its last valid shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import streamlit as st

from components.i18n import N_, _, error_reason
from components.state import AppState, get_state
from components.words import activation_name
from core.conv_layers import MAX_CHANNELS, MAX_KERNEL, Conv
from core.errors import SpecError
from core.layer_items import layers_text, parse_layers
from core.layer_kinds import LAYER_KINDS
from core.layers import ACTIVATIONS, MAX_WIDTH, Dense, Layer
from core.norm_layers import Dropout
from core.spec import MLPSpec, ModelSpec

STACK_TITLES = {
    "hidden": N_("Hidden layers"),
    "encoder": N_("Encoder (squeezes the image down; the last layer is the code)"),
    "decoder": N_("Decoder (rebuilds the image from the code)"),
}
WIDTH_HELP = N_(
    "How many units (neurons) this layer has, 1 to {most:,}. Each unit sums every output of the "
    "layer before it with its own weights, adds a bias, then applies the activation."
)
CHANNELS_HELP = N_(
    "How many filters this convolution has, 1 to {most:,}: each makes one channel (one small image) of "
    "its output, from every channel of its input."
)
KERNEL_HELP = N_("The filter's size in pixels (3: 3x3), 1 to {most}; it must fit in the image the layer gets.")
RATE_HELP = N_(
    "The share of values Dropout zeroes at random while training (0.2: one in five), a new pattern every step; "
    "the others are scaled up so the sum stays the same on average. When evaluating, nothing is dropped."
)
NEW_LAYER_WORDS = {name: kind.title for name, kind in LAYER_KINDS.items()}


def activation_names() -> Callable[[str], str]:
    """A ``format_func`` for activation choices, made now in the visitor's language."""
    return {name: activation_name(name) for name in ACTIVATIONS}.get


def width_help() -> str:
    return _(WIDTH_HELP).format(most=MAX_WIDTH)


def activation_help() -> str:
    """Every activation and what it does (core's words, in the visitor's language)."""
    return " ".join(
        [_("The function applied to each unit's sum."), *(f"{name}: {_(text)}." for name, text in ACTIVATIONS.items())]
    )


def new_layer_help() -> str:
    return " ".join(f"{_(kind.description)}." for kind in LAYER_KINDS.values())


def _apply(state: AppState, stack: str, layers: list[Layer]) -> None:
    """Replace one stack; an invalid result is kept out and its reason shown."""
    try:
        state.set_spec(state.spec.replace(**{stack: tuple(layers)}))
        state.build.editor_error = None
    except SpecError as err:
        state.build.editor_error = error_reason(err)


def _move(stack: str, index: int, offset: int) -> None:
    state = get_state()
    layers = list(getattr(state.spec, stack))
    target = index + offset
    if 0 <= target < len(layers):
        layers[index], layers[target] = layers[target], layers[index]
        _apply(state, stack, layers)


def _remove(stack: str, index: int) -> None:
    state = get_state()
    layers = list(getattr(state.spec, stack))
    del layers[index]
    _apply(state, stack, layers)


def _add(stack: str, kind_key: str) -> None:
    state = get_state()
    layers = list(getattr(state.spec, stack))
    kind = LAYER_KINDS[st.session_state.get(kind_key, Dense.name)]
    if kind is not Dense:  # a Dense layer's width follows the layers around it
        new = kind.for_editor()
        # an encoder ends with its code: the new layer goes before it; an image layer goes before the first
        # Dense layer of a classifier or an encoder (which flattens the image)
        place = len(layers) - 1 if stack == "encoder" and layers else len(layers)
        if kind.image_layer and stack != "decoder":
            place = min([place, *(i for i, layer in enumerate(layers) if layer.is_dense)])
        layers.insert(place, new)
        _apply(state, stack, layers)
        return
    dense = [layer for layer in layers if layer.is_dense]
    width = max(2, dense[-1].width // 2) if dense else 64
    activation = "relu" if not dense or dense[-1].activation == "linear" else dense[-1].activation
    if stack == "encoder" and layers:
        # keep the code layer last: the new layer goes before it
        layers.insert(len(layers) - 1, Layer(max(layers[-1].width * 2, 2), activation))
    else:
        layers.append(Layer(width, activation))
    _apply(state, stack, layers)


def _edit(stack: str, index: int, field: str, key: str) -> None:
    """A width or activation was changed: apply it before the script reruns, so that everything drawn
    before the editor (the sidebar's current model) already shows the new model."""
    state = get_state()
    layers = list(getattr(state.spec, stack))
    value = st.session_state[key]
    if isinstance(layers[index], Conv):
        if value is None:
            return
        layers[index] = replace(layers[index], **{field: value if field == "activation" else int(value)})
    elif field == "width":
        if value is None:
            return
        layers[index] = Layer(value, layers[index].activation)  # 2.5 stays 2.5: refused, never cut to 2
    elif field == "rate":
        if value is None:
            return
        layers[index] = Layer.dropout(value)
    else:
        layers[index] = Layer(layers[index].width, value)
    try:
        state.set_spec(state.spec.replace(**{stack: tuple(layers)}), from_editor=True)
        state.build.editor_error = None
    except SpecError:
        pass  # the editor body shows the reason and keeps the last valid model


def _layer_label(stack: str, index: int, count: int) -> str:
    if stack == "encoder" and index == count - 1:
        return _("{number} (code)").format(number=index + 1)
    return str(index + 1)


def layer_editor(state: AppState) -> ModelSpec:
    """Draw the editor for the model being edited and return the (possibly new) spec."""
    spec = state.spec
    version = state.build.editor_version
    edited: dict[str, tuple[Layer, ...]] = {}
    for stack in spec.stacks:
        layers = getattr(spec, stack)
        st.markdown(f"**{_(STACK_TITLES[stack])}**")
        rows = []
        for i, layer in enumerate(layers):
            # icon columns wide enough for a 36 px button, the width field wide enough for its -/+ steppers
            cols = st.columns([0.55, 2.8, 2.1, 0.85, 0.85, 0.85], gap="xsmall", vertical_alignment="bottom")
            cols[0].markdown(_layer_label(stack, i, len(layers)))
            if isinstance(layer, Conv):
                rows.append(_conv_row(cols, stack, i, layer, version))
                _row_buttons(cols, stack, i, len(layers), version)
                continue
            if not layer.is_dense:
                rows.append(_other_layer_row(cols, stack, i, layer, version))
                _row_buttons(cols, stack, i, len(layers), version)
                continue
            rows.append(_dense_row(cols, stack, i, layer, version))
            _row_buttons(cols, stack, i, len(layers), version)
        add = st.columns([2.1, 2.5], gap="xsmall", vertical_alignment="bottom")
        kind_key = f"build.{stack}.newkind.v{version}"
        kinds = [name for name, kind in LAYER_KINDS.items() if stack == "decoder" or not kind.decoder_only]
        add[0].selectbox(_("Kind of layer to add"), kinds, format_func=NEW_LAYER_WORDS.get,
                         key=kind_key, help=new_layer_help(), label_visibility="collapsed")  # fmt: skip
        add[1].button(_("Add layer"), icon=":material/add:", key=f"build.{stack}.add.v{version}", on_click=_add,
                      args=(stack, kind_key))  # fmt: skip
        edited[stack] = tuple(rows)
    st.caption(_("Type a width, then press Enter or click elsewhere to apply it; the diagram and counts follow."))
    if isinstance(spec, MLPSpec):
        st.caption(
            _("Then a fixed output layer: {units} units, one score per class (no activation).").format(
                units=spec.num_classes
            )
        )
    else:
        st.caption(
            _("Then a fixed output layer: {units} units (one per pixel) and a sigmoid, giving 0..1.").format(
                units=spec.input_size
            )
        )

    try:
        candidate = spec.replace(**edited)
    except SpecError as err:
        st.error(
            _("Not applied: {reason}. The model keeps its last valid shape.").format(reason=error_reason(err)),
            icon=":material/warning:",
        )
        return spec
    if state.build.editor_error:
        st.error(_("Not applied: {reason}.").format(reason=state.build.editor_error), icon=":material/warning:")
    if candidate != spec:
        state.set_spec(candidate, from_editor=True)
        state.build.editor_error = None
    return state.spec


def _dense_row(cols, stack: str, index: int, layer: Layer, version: int) -> Layer:
    """A Dense layer's row: its width and its activation."""
    width_key = f"build.{stack}.{index}.width.v{version}"
    # a float field: an int one makes the browser cut a typed 2.5 to 2 before the spec can refuse it
    width = cols[1].number_input(
        _("units"),
        value=float(layer.width),
        step=1.0,
        format="%g",
        key=width_key,
        on_change=_edit,
        args=(stack, index, "width", width_key),
        help=width_help(),
        label_visibility="visible" if index == 0 else "collapsed",
    )
    activation_key = f"build.{stack}.{index}.activation.v{version}"
    activation = cols[2].selectbox(
        _("activation"),
        list(ACTIVATIONS),
        index=list(ACTIVATIONS).index(layer.activation),
        format_func=activation_names(),
        key=activation_key,
        on_change=_edit,
        args=(stack, index, "activation", activation_key),
        help=activation_help(),
        label_visibility="visible" if index == 0 else "collapsed",
    )
    return Layer(width, activation)


def _conv_row(cols, stack: str, index: int, layer: Conv, version: int) -> Layer:
    """A Conv (or ConvTranspose) layer's row: its channels and kernel size, and its activation."""
    key = f"build.{stack}.{index}"
    shown = "visible" if index == 0 else "collapsed"
    size = cols[1].columns([1.5, 1.1], gap="xsmall")
    channels_help = f"{_(layer.description)}. " + _(CHANNELS_HELP).format(most=MAX_CHANNELS)
    features = size[0].number_input(_("{kind} channels").format(kind=layer.title), value=layer.features, step=1,
                                    key=f"{key}.features.v{version}", on_change=_edit,
                                    args=(stack, index, "features", f"{key}.features.v{version}"),
                                    help=channels_help, label_visibility=shown)  # fmt: skip
    kernel = size[1].number_input(_("kernel"), value=layer.kernel, step=2, key=f"{key}.kernel.v{version}",
                                  on_change=_edit, args=(stack, index, "kernel", f"{key}.kernel.v{version}"),
                                  help=_(KERNEL_HELP).format(most=MAX_KERNEL), label_visibility=shown)  # fmt: skip
    activation = cols[2].selectbox(_("activation"), list(ACTIVATIONS), index=list(ACTIVATIONS).index(layer.activation),
                                   format_func=activation_names(),
                                   key=f"{key}.activation.v{version}", on_change=_edit,
                                   args=(stack, index, "activation", f"{key}.activation.v{version}"),
                                   help=activation_help(), label_visibility=shown)  # fmt: skip
    return type(layer)(
        layer.features if features is None else int(features),
        layer.kernel if kernel is None else int(kernel),
        activation,
    )


def _other_layer_row(cols, stack: str, index: int, layer: Layer, version: int) -> Layer:
    """A pooling, Dropout, BatchNorm or LayerNorm row: its kind, and a dropout's rate."""
    first = "visible" if index == 0 else "collapsed"
    if not isinstance(layer, Dropout):
        cols[1].markdown(f"**{layer.title}**", help=_(layer.description))
        cols[2].caption(_("halves the height and width") if layer.growth < 1 else _("keeps the number of values"))
        return layer
    rate_key = f"build.{stack}.{index}.rate.v{version}"
    cols[1].markdown(_("**Dropout** rate"), help=_(Dropout.description))
    rate = cols[2].number_input(_("rate"), value=float(layer.rate), min_value=0.0, max_value=0.99, step=0.05,
                                format="%.2f", key=rate_key, on_change=_edit, args=(stack, index, "rate", rate_key),
                                help=_(RATE_HELP), label_visibility=first)  # fmt: skip
    return Layer.dropout(layer.rate if rate is None else rate)


def _row_buttons(cols, stack: str, index: int, count: int, version: int) -> None:
    key = f"build.{stack}.{index}"
    cols[3].button(":material/arrow_upward:", key=f"{key}.up.v{version}", on_click=_move,
                   args=(stack, index, -1), disabled=index == 0, help=_("Move this layer up"))  # fmt: skip
    cols[4].button(":material/arrow_downward:", key=f"{key}.down.v{version}", on_click=_move,
                   args=(stack, index, 1), disabled=index == count - 1, help=_("Move this layer down"))  # fmt: skip
    cols[5].button(":material/delete:", key=f"{key}.remove.v{version}", on_click=_remove, args=(stack, index),
                   help=_("Remove this layer"))  # fmt: skip


def widths_text(layers: tuple[Layer, ...], code: bool = False) -> str:
    """The typed editor's text for a stack: ``"512, batchnorm, dropout:0.2, 256"``."""
    return layers_text(layers, "relu", "linear" if code else None)


ITEMS_HELP = N_(
    "Comma-separated items: a width (512) or width:activation (512:gelu), dropout:RATE (dropout:0.2), batchnorm, "
    "layernorm, conv:CHANNELS[:KERNEL[:ACTIVATION]] (conv:32:3:relu), maxpool, avgpool, and in a decoder "
    "convt:CHANNELS[:KERNEL[:ACTIVATION]]. A width alone uses the activation chosen below."
)


def text_editor(state: AppState) -> None:
    """Type all layers at once ("512, batchnorm, dropout:0.2, 256"); applied only if the whole model is valid."""
    spec = state.spec
    version = state.build.editor_version
    with st.form(f"build.text.v{version}", border=False):
        if isinstance(spec, MLPSpec):
            hidden = st.text_input(
                _("Hidden widths"), widths_text(spec.hidden), help=_(ITEMS_HELP) + " " + _("E.g. 512, 256")
            )
            fields = {"hidden": hidden}
        else:
            encoder = st.text_input(
                _("Encoder widths (last = code size)"), widths_text(spec.encoder, code=True),
                help=_(ITEMS_HELP) + " " + _("The code's width alone is linear."),
            )  # fmt: skip
            decoder = st.text_input(_("Decoder widths"), widths_text(spec.decoder), help=_(ITEMS_HELP))
            fields = {"encoder": encoder, "decoder": decoder}
        activation = st.selectbox(
            _("Activation for every hidden layer"), list(ACTIVATIONS), format_func=activation_names(),
            help=activation_help(),
        )  # fmt: skip
        submitted = st.form_submit_button(_("Apply widths"))
    if submitted:
        try:
            if isinstance(spec, MLPSpec):
                new = ModelSpec(kind="mlp", hidden=parse_layers(fields["hidden"], "hidden", activation), seed=spec.seed)
            else:
                encoder = parse_layers(fields["encoder"], "encoder", activation, code_activation="linear")
                decoder = parse_layers(fields["decoder"], "decoder", activation)
                new = ModelSpec(kind="autoencoder", encoder=encoder, decoder=decoder, seed=spec.seed)
        except SpecError as err:
            st.error(_("Not applied: {reason}.").format(reason=error_reason(err)), icon=":material/warning:")
        else:
            state.set_spec(new)
            state.build.editor_error = None
            state.build.text_editor_open = True
            st.rerun()
