"""Explore: walk around a trained autoencoder's latent space and watch the decoder draw.

Sliders move a point through the code (one per number, or the two main directions of a
wide code), a click on the map decodes that point, and a walk between two test images
shows the decoded images along the straight line between their codes.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from components import figures, resources
from components.frame import page, require_frame
from components.i18n import _, error_text
from components.images import BIG, tile
from components.state import get_state
from components.ui import extreme_values_notice, not_trained_yet
from components.words import option_text, plain
from core import latent, predict
from core.data import dataset_title
from core.data.dataset import one_of_class
from core.errors import CoreError
from core.latent import LatentAxes
from core.spec import AutoEncoderSpec, ModelSpec

require_frame()

CHOICES_PER_CLASS = 5

state = get_state()
spec = state.spec
result = state.trained_result()

st.title(":material/explore: " + _("Explore the latent space"))
if not isinstance(spec, AutoEncoderSpec):
    st.info(
        _(
            "This page needs an **autoencoder**: it draws images from codes. The model being edited is "
            "**{model}**, a classifier. Choose *AutoEncoder* on the Build page, train it, then come back."
        ).format(model=spec.describe()),
        icon=":material/explore:",
    )
    st.page_link(page("pages/build.py"), label=_("Go to Build →"), icon=":material/construction:")
    st.stop()
if result is None:
    not_trained_yet(
        spec.describe(),
        _("its decoder would only draw noise"),
        _("lets you move through its codes and watch what it draws"),
    )
    st.stop()


extreme_values_notice(result.params)
dataset = resources.test_dataset(result, state.dataset_name)
run = state.trained_run()
codes = resources.test_outputs(run.cache_id, dataset.name, result, dataset)["codes"]
try:
    axes = latent.latent_axes(codes)
    map_axes = latent.latent_axes(codes, max_unit_axes=2)
except CoreError as err:
    st.error(
        _("Cannot explore this model's codes: {reason}").format(reason=plain(error_text(err), 300)),
        icon=":material/error:",
    )
    st.stop()
names = dataset.class_names
st.caption(
    _(
        "Run {run}: every image is squeezed into a code of **{size} numbers**, and the decoder "
        "draws an image back from any code, even one that no image has. Codes of the {count:,} test "
        "images of {data} show where each class lives."
    ).format(run=run.run_id, size=spec.code_size, count=dataset.num_test, data=dataset_title(dataset.name, gettext=_))
)


#: a few test images of each class, to pick from (a list of 10,000 would be heavy and no easier to use)
choices = [
    int(i) for label in range(len(names)) for i in np.flatnonzero(dataset.test_labels == label)[:CHOICES_PER_CLASS]
]


#: each choice in words, made while the script runs (a widget may call its format_func after the run)
choice_words = {
    i: option_text(_("a {name} (test image #{number})").format(name=names[dataset.test_labels[i]], number=i), 120)
    for i in choices
}
describe_choice = choice_words.__getitem__


def decoded_picture(spec: ModelSpec, params, code: np.ndarray) -> np.ndarray:
    return tile(predict.decode(spec, params, code), cols=1, scale=BIG)


# ----- sliders ------------------------------------------------------------------------------
@st.fragment
def code_sliders(spec: ModelSpec, params, axes: LatentAxes, coordinates: np.ndarray, run_id: int) -> None:
    """Only this part reruns when a slider moves: one small decode, no map redrawn."""
    low, high = latent.slider_ranges(coordinates)
    start = np.clip(np.median(coordinates, axis=0), low, high)
    if axes.principal:
        help_text = _(
            "Moves the code along one of the two directions in which the test images' codes differ most, "
            "starting from the average code. The other directions stay at their average."
        )
        st.caption(
            _(
                "The code has {size} numbers, too many for a slider each: these two sliders move "
                "along its two main directions, which hold {share:.0%} of the spread."
            ).format(size=axes.code_size, share=sum(axes.variance_share))
        )
    else:
        help_text = _("One number of the code. The range covers where almost all test images' codes lie, a bit wider.")
        st.caption(_("One slider per number of the code. The ends cover where almost all test images' codes lie."))
    left, right = st.columns([3, 2])
    values = []
    with left:
        for i, name in enumerate(axes.names()):
            span = float(high[i]) - float(low[i])  # in Python floats: float32 overflows between -3e38 and 3e38
            value = st.slider(
                name, min_value=float(low[i]), max_value=float(high[i]), value=float(start[i]),
                step=span / 200, format="%.2f", key=f"explore.{run_id}.axis{i}", help=help_text,
            )  # fmt: skip
            values.append(value)
    code = axes.codes_at(values)
    right.image(decoded_picture(spec, params, code), output_format="PNG", caption=_("What the decoder draws here"))
    left.caption(_("Code: {values}").format(values=", ".join(f"{v:.2f}" for v in code[0])))


st.markdown(_("### Move through the code"))
code_sliders(spec, result.variables, axes, axes.coordinates(codes), run.run_id)

# ----- the map ------------------------------------------------------------------------------
st.markdown(_("### Pick a point on the map"))
points = map_axes.coordinates(codes)
if map_axes.count == 1:
    points = np.column_stack([points, np.zeros(len(points), np.float32)])
    titles = (map_axes.names()[0], _("(nothing: the code has 1 number)"))
else:
    titles = tuple(map_axes.names())
map_column, pick_column = st.columns([3, 2])
with map_column:
    event = st.plotly_chart(
        figures.latent_figure(points, dataset.test_labels, names, titles),
        key="explore.map", on_select="rerun", selection_mode="points",
    )  # fmt: skip
    st.caption(
        _(
            "Each dot is a test image at its code (seen along the two main directions). Click a dot to decode that "
            "point; double-click empty space to clear."
        )
        if map_axes.principal
        else _(
            "Each dot is a test image at its code. Click a dot to decode that point; double-click empty space to clear."
        )
    )
clicked = (event or {}).get("selection", {}).get("points", [])
with pick_column:
    if clicked:
        point = clicked[0]
        index = point.get("customdata")
        index = int(index[0] if isinstance(index, list) else index)
        map_point = [point["x"], point["y"]][: map_axes.count]
    else:
        index = st.selectbox(
            _("Or choose a test image"), choices, format_func=describe_choice, key="explore.pick",
            help=_("With no dot clicked on the map, this test image's point is decoded."),
        )  # fmt: skip
        map_point = points[index][: map_axes.count]
    from_point = predict.decode(spec, result.variables, map_axes.codes_at(map_point))
    shown = [dataset.test_images[[index]].astype(np.float32) / 255.0, from_point]
    labels = [_("the test image"), _("decoded from the map point")]
    if map_axes.principal:
        shown.insert(1, predict.decode(spec, result.variables, codes[[index]]))
        labels.insert(1, _("decoded from its full code"))
    st.image(tile(np.concatenate(shown), cols=len(shown), scale=5), output_format="PNG")
    st.caption(
        _("Test image #{number}, {label}: {images}.").format(
            number=index, label=plain(one_of_class(names, dataset.test_labels[index], _)), images=" · ".join(labels)
        )
    )
    if map_axes.principal:
        st.caption(
            _(
                "The map shows only 2 of the code's numbers' directions: decoding the map point keeps the other "
                "directions at their average, so it looks like a blurrier, more typical version of the image."
            )
        )

# ----- interpolation ------------------------------------------------------------------------
st.markdown(_("### Walk from one image to another"))
walk = st.columns([2, 2, 3])
first = walk[0].selectbox(
    _("From"), choices, index=0, format_func=describe_choice, key="explore.walk_from",
    help=_("The test image the walk starts at."),
)  # fmt: skip
last = walk[1].selectbox(
    _("To"), choices, index=min(len(choices) - 1, CHOICES_PER_CLASS), format_func=describe_choice,
    key="explore.walk_to", help=_("The test image the walk ends at."),
)  # fmt: skip
steps = walk[2].slider(
    _("Steps"), min_value=3, max_value=16, value=10, key="explore.walk_steps",
    help=_("How many images to decode along the straight line between the two codes, both ends included."),
)  # fmt: skip
path = latent.interpolate(codes[first], codes[last], steps)
strip = np.concatenate(
    [
        dataset.test_images[[first]].astype(np.float32) / 255.0,
        predict.decode(spec, result.variables, path),
        dataset.test_images[[last]].astype(np.float32) / 255.0,
    ]
)
st.image(tile(strip, cols=len(strip), scale=3), output_format="PNG")
st.caption(
    _(
        "First and last: the two test images. Between them: {steps} images decoded from codes evenly spaced on the "
        "straight line from the first image's code to the second's. A smooth change means the decoder has learned "
        "a continuous space; a sudden jump means the line crosses a gap between the kinds of images."
    ).format(steps=steps)
)
