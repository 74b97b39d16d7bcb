"""Build: choose the kind of model, stack Dense layers, see its shape and size at once."""

from __future__ import annotations

import streamlit as st

from components import conv_figures, figures, resources
from components.build_views import conv_view, next_steps
from components.frame import require_frame
from components.i18n import language
from components.layer_editor import layer_editor, text_editor
from components.state import get_state
from components.ui import advanced, explain, height
from core import models
from core.costs import human_bytes, human_count, model_costs
from core.presets import PRESETS
from core.spec import MAX_SEED, MODEL_KINDS

require_frame()

KIND_LABELS = {"mlp": "MLP classifier", "autoencoder": "AutoEncoder"}
KIND_HELP = (
    "An MLP classifier looks at a 28x28 image and says which of 10 classes it is. "
    "An AutoEncoder squeezes the image through a small code and rebuilds it from that code."
)

state = get_state()

st.title(":material/construction: Build a model")
st.markdown(
    "**This tool lets you build a small neural network, teach it to recognise pictures, and look inside it, "
    "all by clicking.**"
)
st.caption(
    "Stack Dense layers (every unit connected to every unit of the layer before) and, for images, Conv and "
    "pooling layers (small filters slid over the image). Wider layers can learn more, at the cost of more parameters."
)

top = st.columns([2.6, 3, 1.2], vertical_alignment="bottom")  # both kinds fit in presenter mode at 1280
kind = top[0].segmented_control(
    "Kind of model", list(KIND_LABELS), format_func=KIND_LABELS.get, default=state.kind,
    key=f"build.kind.v{state.build.editor_version}",
    help=KIND_HELP,
)  # fmt: skip
if kind and kind != state.kind:
    state.kind = kind
    state.build.editor_version += 1
    st.rerun()
preset_names = [name for name, (_, spec) in PRESETS.items() if isinstance(spec, MODEL_KINDS[state.kind])]
preset = top[1].selectbox(
    "Start from a preset", preset_names, key=f"build.preset.{state.kind}",
    help="\n\n".join(f"**{name}**: {PRESETS[name][0]}" for name in preset_names),
)  # fmt: skip


def use_preset(name: str) -> None:
    state.set_spec(PRESETS[name][1].replace(seed=state.spec.seed))
    state.build.editor_error = None


top[2].button(
    "Use preset", key="build.use_preset", on_click=use_preset, args=(preset,),
    help="Replace the layers below with this preset",
)  # fmt: skip

spec = state.spec
left, right = st.columns([1.3, 1.2], gap="medium")  # the layer rows need ~470 px at 1280
with left:
    spec = layer_editor(state)
    # the count right under the widths: on a phone the metrics column comes three screens further down
    st.markdown(f"**{spec.parameter_count:,} parameters** in total (numbers the model learns)")
    if advanced():
        with st.expander("Type the widths instead", expanded=state.build.text_editor_open):
            text_editor(state)
        with st.expander("Initialisation seed"):
            seed = st.number_input(
                "Seed", min_value=0, max_value=MAX_SEED, value=spec.seed, step=1,
                key=f"build.seed.v{state.build.editor_version}",
                help="The starting weights are random; the same seed always gives the same starting weights.",
            )  # fmt: skip
            if seed != spec.seed:
                state.set_spec(spec.replace(seed=int(seed)), from_editor=True)
                spec = state.spec

with right:
    st.markdown(f"#### {spec.describe()}")
    if state.last_change:
        st.success(f"Last change: {state.last_change}", icon=":material/compare_arrows:")
    costs = model_costs(spec, state.config)
    m = st.columns(3)
    m[0].metric("Parameters", f"{spec.parameter_count:,}", help="Weights and biases the model learns while training.")
    m[1].metric(
        "Memory while training",
        human_bytes(costs.parameter_bytes + costs.optimizer_state_bytes + costs.batch_stats_bytes),
        help=f"Parameters: {human_bytes(costs.parameter_bytes)} (4 bytes each). The {state.config.optimizer} "
        f"optimizer keeps {human_bytes(costs.optimizer_state_bytes)} more (Adam: two running averages "
        "per parameter)."
        + (f" BatchNorm's running means and variances (batch_stats): {human_bytes(costs.batch_stats_bytes)}."
           if costs.batch_stats_bytes else ""),
    )  # fmt: skip
    m[2].metric(
        "Operations per image", human_count(costs.forward_flops),
        help=f"Arithmetic operations to classify or rebuild one image (forward pass). Learning from one "
        f"image costs about {human_count(costs.train_flops)} (forward + backward pass).",
    )  # fmt: skip
    if conv_figures.uses_images(spec):
        conv_view(spec)
        next_steps()
        st.stop()
    # made once per model (and language), not on every rerun: a fifth of the page's own run
    tall = height(340)
    stack = resources.drawn(("build.stack", spec, tall, language()), lambda: figures.stack_figure(spec, height=tall))
    st.plotly_chart(stack, key="build.stack", config={"displayModeBar": False})
    others = [layer for layer in spec.layers if not layer.is_dense]
    if others:
        st.caption(
            "Between the Dense layers (not drawn as bars, they keep the number of values): "
            + ", ".join(f"{layer.describe()}" for layer in others)
            + f". BatchNorm and LayerNorm learn a scale and a bias per value: {spec.norm_parameter_count:,} "
            "of the parameters."
        )
    explain("Bars are drawn to scale: height = number of units. Hover a bar for its parameters.")
    dense_layers = models.dense_layers(spec)
    st.dataframe(
        [
            {
                "layer": d.path,
                "shape": f"{d.inputs:,} → {d.outputs:,}",
                "activation": d.activation,
                "weights": d.inputs * d.outputs,
                "biases": d.outputs,
                "parameters": d.parameters,
            }
            for d in dense_layers
        ],
        hide_index=True,
        key="build.table",
        column_config={
            "weights": st.column_config.NumberColumn(help="inputs x outputs: one per connection", format="localized"),
            "biases": st.column_config.NumberColumn(help="one per unit", format="localized"),
            "parameters": st.column_config.ProgressColumn(
                help="weights + biases", format="localized", min_value=0,
                max_value=max(d.parameters for d in dense_layers),
            ),
        },
    )  # fmt: skip

next_steps()
