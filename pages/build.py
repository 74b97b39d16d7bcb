"""Build: choose the kind of model, stack Dense layers, see its shape and size at once."""

from __future__ import annotations

import streamlit as st

from components import conv_figures, figures, resources
from components.build_views import conv_view, next_steps
from components.frame import require_frame
from components.i18n import N_, _, language, message_text
from components.layer_editor import layer_editor, text_editor
from components.state import get_state
from components.ui import advanced, explain, height
from components.words import activation_name, count_words
from core import models
from core.costs import human_bytes, model_costs
from core.presets import PRESETS
from core.spec import MAX_SEED, MODEL_KINDS, ModelSpec

require_frame()

KIND_LABELS = {"mlp": N_("MLP classifier"), "autoencoder": N_("AutoEncoder")}
KIND_HELP = N_(
    "An MLP classifier looks at a 28x28 image and says which of 10 classes it is. "
    "An AutoEncoder squeezes the image through a small code and rebuilds it from that code."
)

state = get_state()

st.title(":material/construction: " + _("Build a model"))
st.markdown(
    _(
        "**This tool lets you build a small neural network, teach it to recognise pictures, and look inside it, "
        "all by clicking.**"
    )
)
st.caption(
    _(
        "Stack Dense layers (every unit connected to every unit of the layer before) and, for images, Conv and "
        "pooling layers (small filters slid over the image). Wider layers can learn more, at the cost of more "
        "parameters."
    )
)

top = st.columns([2.6, 3, 1.2], vertical_alignment="bottom")  # both kinds fit in presenter mode at 1280
kind = top[0].segmented_control(
    _("Kind of model"), list(KIND_LABELS), default=state.kind,
    format_func={kind: _(label) for kind, label in KIND_LABELS.items()}.get,  # made now, in the visitor's language
    key=f"build.kind.v{state.build.editor_version}",
    help=_(KIND_HELP),
)  # fmt: skip
if kind and kind != state.kind:
    state.kind = kind
    state.build.editor_version += 1
    st.rerun()
preset_names = [name for name, (_about, spec) in PRESETS.items() if isinstance(spec, MODEL_KINDS[state.kind])]
preset = top[1].selectbox(
    _("Start from a preset"), preset_names, key=f"build.preset.{state.kind}",
    format_func={name: _(name) for name in preset_names}.get,  # made now, in the visitor's language
    help="\n\n".join(f"**{_(name)}**: {_(PRESETS[name][0])}" for name in preset_names),
)  # fmt: skip


def use_preset(name: str) -> None:
    state.set_spec(PRESETS[name][1].replace(seed=state.spec.seed))
    state.build.editor_error = None


top[2].button(
    _("Use preset"), key="build.use_preset", on_click=use_preset, args=(preset,),
    help=_("Replace the layers below with this preset"),
)  # fmt: skip


def dense_view(spec: ModelSpec) -> None:
    """A model of Dense layers: its widths to scale and a table of its Dense layers."""
    # made once per model (and language), not on every rerun: a fifth of the page's own run
    tall = height(340)
    stack = resources.drawn(("build.stack", spec, tall, language()), lambda: figures.stack_figure(spec, height=tall))
    st.plotly_chart(stack, key="build.stack", config={"displayModeBar": False})
    others = [layer for layer in spec.layers if not layer.is_dense]
    if others:
        st.caption(
            _(
                "Between the Dense layers (not drawn as bars, they keep the number of values): {layers}. "
                "BatchNorm and LayerNorm learn a scale and a bias per value: {count:,} of the parameters."
            ).format(layers=_(", ").join(layer.describe() for layer in others), count=spec.norm_parameter_count)
        )
    explain(_("Bars are drawn to scale: height = number of units. Hover a bar for its parameters."))
    dense_layers = models.dense_layers(spec)
    st.dataframe(
        [
            {
                _("layer"): d.path,
                _("shape"): f"{d.inputs:,} → {d.outputs:,}",
                _("activation"): activation_name(d.activation),
                _("weights"): d.inputs * d.outputs,
                _("biases"): d.outputs,
                _("parameters"): d.parameters,
            }
            for d in dense_layers
        ],
        hide_index=True,
        key="build.table",
        column_config={
            _("weights"): st.column_config.NumberColumn(
                help=_("inputs x outputs: one per connection"), format="localized"
            ),
            _("biases"): st.column_config.NumberColumn(help=_("one per unit"), format="localized"),
            _("parameters"): st.column_config.ProgressColumn(
                help=_("weights + biases"), format="localized", min_value=0,
                max_value=max(d.parameters for d in dense_layers),
            ),
        },
    )  # fmt: skip


spec = state.spec
left, right = st.columns([1.3, 1.2], gap="medium")  # the layer rows need ~470 px at 1280
with left:
    spec = layer_editor(state)
    # the count right under the widths: on a phone the metrics column comes three screens further down
    st.markdown(_("**{count:,} parameters** in total (numbers the model learns)").format(count=spec.parameter_count))
    if advanced():
        with st.expander(_("Type the widths instead"), expanded=state.build.text_editor_open):
            text_editor(state)
        with st.expander(_("Initialisation seed")):
            seed = st.number_input(
                _("Seed"), min_value=0, max_value=MAX_SEED, value=spec.seed, step=1,
                key=f"build.seed.v{state.build.editor_version}",
                help=_("The starting weights are random; the same seed always gives the same starting weights."),
            )  # fmt: skip
            if seed != spec.seed:
                state.set_spec(spec.replace(seed=int(seed)), from_editor=True)
                spec = state.spec

with right:
    st.markdown(f"#### {spec.describe()}")
    if state.last_change:
        said = message_text(state.last_change)
        st.success(_("Last change: {change}").format(change=said), icon=":material/compare_arrows:")
    costs = model_costs(spec, state.config)
    m = st.columns(3)
    m[0].metric(
        _("Parameters"), f"{spec.parameter_count:,}", help=_("Weights and biases the model learns while training.")
    )
    memory_help = _(
        "Parameters: {parameters} (4 bytes each). The {optimizer} optimizer keeps {optimizer_state} more "
        "(Adam: two running averages per parameter)."
    ).format(parameters=human_bytes(costs.parameter_bytes), optimizer=state.config.optimizer,
             optimizer_state=human_bytes(costs.optimizer_state_bytes))  # fmt: skip
    if costs.batch_stats_bytes:
        memory_help += " " + _("BatchNorm's running means and variances (batch_stats): {size}.").format(
            size=human_bytes(costs.batch_stats_bytes)
        )
    m[1].metric(
        _("Memory while training"),
        human_bytes(costs.parameter_bytes + costs.optimizer_state_bytes + costs.batch_stats_bytes),
        help=memory_help,
    )
    m[2].metric(
        _("Operations per image"), count_words(costs.forward_flops),
        help=_("Arithmetic operations to classify or rebuild one image (forward pass). Learning from one "
               "image costs about {count} (forward + backward pass).").format(count=count_words(costs.train_flops)),
    )  # fmt: skip
    if conv_figures.uses_images(spec):
        conv_view(spec)
    else:
        dense_view(spec)

next_steps()
