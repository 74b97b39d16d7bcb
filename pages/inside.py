"""Inside: what every unit of the network does for one input, and the network as a diagram.

The values are flax's own (``core.inside``: ``capture_intermediates``); clicking a unit of the
diagram shows its incoming weights and the test images that light it up most.
"""

from __future__ import annotations

import hashlib

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from components import conv_views, figures, inside_figures, resources, switch_figures, switches, unit_views
from components.frame import page, require_frame
from components.i18n import N_, _, language, ngettext
from components.images import tile
from components.inside_figures import DiagramLayer
from components.state import get_state
from components.ui import explain, extreme_values_notice, height, image_scale
from components.words import option_text, plain
from core import inside, models
from core.data import Dataset
from core.data.dataset import one_of_class
from core.errors import CoreError
from core.spec import MLPSpec

require_frame()

DIAGRAM_WEIGHTS = 200  # lines drawn between two layers
SOURCES = {"test": N_("A test image"), "drawing": N_("Your drawing from the Draw page")}
#: the two models the page can show side by side, in words (their keys name the charts)
MODEL_WORDS = {"trained": N_("trained"), "untrained": N_("untrained")}
ANSWER_WORDS = {"trained": N_("**The trained model's answer: {answer}**"),
                "untrained": N_("**The untrained model's answer: {answer}**")}  # fmt: skip
REBUILT_WORDS = {"trained": N_("**What the trained autoencoder rebuilds**"),
                 "untrained": N_("**What the untrained autoencoder rebuilds**")}  # fmt: skip
ANY_CLASS = -1

state = get_state()
spec = state.spec
run = state.trained_run()
result = run.result if run is not None else None

st.title(":material/neurology: " + _("Inside the network"))
st.caption(
    _(
        "What each unit (one number a layer computes) of **{model}** does with one image: every layer's "
        "units coloured by their value, the network as a diagram of its strongest weights, and what a unit looks for."
    ).format(model=spec.describe())
)

try:
    dataset: Dataset = (
        resources.test_dataset(result, state.dataset_name) if result else resources.dataset(state.dataset_name)
    )
except CoreError:
    dataset = resources.dataset("sample")
untrained = models.init_variables(spec)
variables = result.variables if result is not None else untrained
if result is None:
    st.info(
        _(
            "**{model}** has not been trained yet: these are the values of its random starting weights. "
            "Train it to see the units learn to respond to shapes."
        ).format(model=spec.describe()),
        icon=":material/school:",
    )
    st.page_link(page("pages/train.py"), label=_("Go to Train →"), icon=":material/show_chart:")
else:
    extreme_values_notice(result.params)
model_key = ("run", run.cache_id) if result is not None else ("untrained", spec)
masks = switches.current_masks(spec, model_key if result is not None else None)
switched_off = switches.switches_for(model_key).off if masks else {}
switch_units = switches.units_per_layer(spec)
names = dataset.class_names


# ----- the input --------------------------------------------------------------------------------
def another_image() -> None:
    """A random test image of the chosen class (or of any class)."""
    wanted = st.session_state.get("inside.class", ANY_CLASS)
    pool = np.arange(dataset.num_test) if wanted == ANY_CLASS else np.flatnonzero(dataset.test_labels == wanted)
    state.inside_image = int(np.random.default_rng().choice(pool))


st.markdown(_("### 1. Pick an input"))
# what the visitor chose last: a digit just drawn, or an image opened from Results
st.session_state.setdefault("inside.source", state.inside_source)
choice = st.radio(
    _("Look inside with"), list(SOURCES), format_func={key: _(text) for key, text in SOURCES.items()}.__getitem__,
    horizontal=True,
    key="inside.source", help=_("A test image the model never trained on, or the picture you drew on the Draw page."),
)  # fmt: skip


state.inside_source = choice
if choice == "drawing" and state.drawing is None:
    st.info(_("Nothing drawn yet: draw a picture on the Draw page, then come back."), icon=":material/draw:")
    st.page_link(page("pages/draw.py"), label=_("Go to Draw →"), icon=":material/draw:")
    st.stop()
if choice == "test":
    if state.inside_image is None or not 0 <= state.inside_image < dataset.num_test:
        state.inside_image = 0
    pick = st.columns([2, 2, 3], vertical_alignment="bottom")
    pick[0].selectbox(
        _("Class"), [ANY_CLASS, *range(len(names))], key="inside.class", on_change=another_image,
        format_func={ANY_CLASS: _("any class"), **{c: option_text(name) for c, name in enumerate(names)}}.__getitem__,
        help=_("Browse the test images of one class."),
    )  # fmt: skip
    pick[1].button(_("Another image"), icon=":material/casino:", key="inside.another", on_click=another_image)
    label = plain(one_of_class(names, dataset.test_labels[state.inside_image], _))
    pick[2].caption(
        _("Test image #{number:,} of {count:,}: {label}.").format(
            number=state.inside_image, count=dataset.num_test, label=label
        )
    )
    image = dataset.test_images[state.inside_image].astype(np.float32) / 255.0
else:
    image = np.asarray(state.drawing, np.float32)

rows, output = inside.layer_outputs(spec, variables, image, masks)
if masks:
    count = sum(len(units) for units in switched_off.values())
    st.caption(
        ":material/power_settings_new: "
        + ngettext(
            "{count} unit switched off (section 5): the answer, every layer and the diagram below are those of "
            "the network without it (crossed out).",
            "{count} units switched off (section 5): the answer, every layer and the diagram below are those of "
            "the network without them (crossed out).",
            count,
        ).format(count=count)
    )
compare = st.toggle(
    _("Side by side with the untrained model"), key="inside.compare", disabled=result is None,
    help=_("The same image through the same layers with the random weights training started from."),
)  # fmt: skip
if compare and result is not None:
    start_rows, start_output = inside.layer_outputs(spec, untrained, image)
    models_shown = [("trained", rows, output), ("untrained", start_rows, start_output)]
else:
    models_shown = [("trained" if result is not None else "untrained", rows, output)]

seen = st.columns([1, *([2] * len(models_shown))])
seen[0].image(
    tile(image[None], cols=1, scale=image_scale(5)), output_format="PNG", caption=_("The input, 28x28 pixels")
)
for column, (label, _rows, out) in zip(seen[1:], models_shown, strict=True):
    with column:
        if isinstance(spec, MLPSpec):
            chances = inside.probabilities(out)[0]
            st.markdown(_(ANSWER_WORDS[label]).format(answer=plain(names[int(np.argmax(chances))])))
            st.plotly_chart(
                figures.probability_figure(chances, names, height=height(220)), key=f"inside.answer.{label}"
            )
        else:
            st.markdown(_(REBUILT_WORDS[label]))
            st.image(tile(out, cols=1, scale=image_scale(5)), output_format="PNG")

# ----- every layer ------------------------------------------------------------------------------
st.markdown(_("### 2. Every layer's output"))
explain(
    _(
        "One square per unit, in reading order (unit 0 top left). Hover a square for its number and value. "
        "Dark blue: a unit that responds strongly to this image; white: a unit that stays silent (ReLU gives 0). "
        "Layers whose values can be negative (the output scores, a code) go from red (negative) through white (0) "
        "to blue (positive)."
    )
)


def layer_grid(values: np.ndarray, title: str, tall: int, off: tuple[int, ...], units: int) -> go.Figure:
    """A layer's grid with its switched-off units crossed out, made once per values, title and switches: building
    the grids' figures was two fifths of the page's script run, on every rerun."""

    def draw() -> go.Figure:
        grid = inside_figures.unit_grid_figure(values, title, height=tall)
        return switch_figures.mark_grid(grid, off, values.size, units) if off else grid

    digest = hashlib.blake2b(np.asarray(values, np.float32).tobytes()).digest()
    return resources.drawn(("inside.grid", digest, title, tall, off, units, language()), draw)


for number, row in enumerate(rows, start=1):
    if (maps_shape := inside.image_shape(spec, row.path)) is not None:
        conv_views.feature_maps(spec, number, models_shown, maps_shape, tuple(sorted(switched_off.get(row.path, ()))))
        continue
    title = unit_views.layer_name(row, number)
    if row.role == "code":
        title = _("{layer}: the {units:,} numbers the image is squeezed into").format(layer=title, units=row.units)
    columns = st.columns(len(models_shown))
    for column, (label, layer_rows, _output) in zip(columns, models_shown, strict=True):
        shown_title = title + (f" · {_(MODEL_WORDS[label])}" if len(models_shown) > 1 else "")
        grid_rows, _cols = inside.grid_shape(row.units)
        off = tuple(sorted(switched_off.get(row.path, ()))) if label == "trained" else ()
        grid = layer_grid(layer_rows[number - 1].values[0], shown_title, height(60 + 14 * min(grid_rows, 20)),
                          off, switch_units.get(row.path, row.units))  # fmt: skip
        column.plotly_chart(grid, key=f"inside.layer{number}.{label}")

conv_views.channel_section(spec, variables, rows, dataset, model_key)

# ----- the diagram ------------------------------------------------------------------------------
st.markdown(_("### 3. The network as a diagram"))
dense = [row for row in rows if row.path in {layer.path for layer in models.dense_layers(spec)}]
kernels = [inside.kernel_of(variables, row.path) for row in dense]
if kernels[0].shape[0] != image.size:  # a conv model: its first Dense layer takes the last image's values
    st.caption(_("The diagram draws the Dense layers of a model that starts with one: this one starts with "
                 "convolutions, whose channels are shown above."))  # fmt: skip
    switches.switch_section(spec, variables, dataset, image, model_key if result is not None else None, rows)
    st.stop()
layers = [DiagramLayer(_("input"), image.ravel())] + [
    DiagramLayer(unit_views.layer_label(row, number), row.values[0]) for number, row in enumerate(dense, start=1)
]


def network_diagram(tall: int) -> go.Figure:
    """The diagram with its switched-off units crossed out, made once per model, input and switches: a
    rerun (a click below, a visitor coming back) reuses it, where finding the strongest of 400,000 weights
    and building the figure cost a fifth of the page's run."""
    off = tuple(tuple(sorted(switched_off.get(row.path, ()))) for row in dense)
    values = hashlib.blake2b(b"".join(np.asarray(layer.values, np.float32).tobytes() for layer in layers)).digest()
    names = tuple(layer.name for layer in layers)

    def draw() -> go.Figure:
        links = [inside.strongest_connections(kernel, DIAGRAM_WEIGHTS) for kernel in kernels]
        figure = inside_figures.network_figure(layers, links, height=tall)
        for column, units in enumerate(off, start=1):
            switch_figures.mark_diagram(figure, column, units)
        return figure

    return resources.drawn(("inside.diagram", model_key, values, names, off, tall, language()), draw)


clicked = st.session_state.get("inside.diagram")
points = clicked.selection.points if clicked else []
picked = inside_figures.clicked_unit(points[0]) if points else None
if picked is not None and st.session_state.get("inside.last_click") != picked:
    # a new click chooses that unit below (the selection stays in the chart's state: apply it once)
    st.session_state["inside.last_click"] = picked
    if picked[0] > 0:  # not a pixel of the input
        st.session_state["inside.unit_layer"], st.session_state["inside.unit"] = picked
st.plotly_chart(network_diagram(height(560)), key="inside.diagram", on_select="rerun", selection_mode="points")
explain(
    _(
        "Columns: the input's 784 pixels, then each layer's units, lit by their value for this image. Lines: the "
        "{count} strongest weights between two layers, blue when positive (the unit on the right is pushed "
        "up), red when negative, thicker when larger. Click a unit to see what it looks for."
    ).format(count=DIAGRAM_WEIGHTS)
)

# ----- one unit ---------------------------------------------------------------------------------
st.markdown(_("### 4. One unit"))
chosen = st.columns([2, 1])
# widgets forget their value when another page is shown: coming back keeps the visitor's layer and unit
st.session_state.setdefault("inside.unit_layer", min(state.inside_unit_layer, len(dense)))
st.session_state.setdefault("inside.unit", state.inside_unit)
dense_names = {number: unit_views.layer_name(row, number) for number, row in enumerate(dense, start=1)}
layer_number = chosen[0].selectbox(
    _("Layer"), range(1, len(dense) + 1), key="inside.unit_layer", format_func=dense_names.__getitem__,
    help=_("Or click a unit in the diagram."),
)  # fmt: skip
row = dense[layer_number - 1]
if st.session_state.get("inside.unit", 0) >= row.units:
    st.session_state["inside.unit"] = 0
unit = int(
    chosen[1].number_input(
        _("Unit"),
        min_value=0,
        max_value=row.units - 1,
        step=1,
        key="inside.unit",
        help=_("Units of this layer are numbered 0 to {last:,}.").format(last=row.units - 1),
    )
)
state.inside_unit_layer, state.inside_unit = layer_number, unit
incoming = kernels[layer_number - 1][:, unit]
value = float(row.values[0, unit])
if np.isfinite(value):
    said = _("**{layer}, unit {unit}:** {value:.2f} for this image")
else:
    said = _("**{layer}, unit {unit}:** not a number (the training diverged)")
st.markdown(said.format(layer=unit_views.layer_name(row, layer_number), unit=unit, value=value))
unit_views.unit_panels(spec, dataset, model_key, variables, row, unit, incoming, first_layer=layer_number == 1)

# ----- switching units off ----------------------------------------------------------------------
switches.switch_section(spec, variables, dataset, image, model_key if result is not None else None, rows)
