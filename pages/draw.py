"""Draw: a person draws a digit; the page prepares it the way MNIST digits were made and shows
what the trained model makes of it (class probabilities, or the autoencoder's reconstruction).
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from components import figures, resources
from components.frame import require_frame
from components.i18n import _
from components.images import BIG, tile
from components.state import get_state
from components.ui import extreme_values_notice, not_trained_yet
from components.words import plain
from core import canvas, predict
from core.data import DIGIT_NAMES
from core.data.dataset import KNOWN_NOUNS, drawing_subject
from core.errors import CoreError
from core.spec import MLPSpec

require_frame()

CANVAS_PIXELS = 280  # ten times MNIST's 28: the prepared digit is 20 pixels tall, the drawing ~200

state = get_state()
spec = state.spec
result = state.trained_result()
if result is not None:
    extreme_values_notice(result.params)

try:
    known = resources.dataset(result.dataset if result is not None else state.dataset_name).class_names
except CoreError:
    known = DIGIT_NAMES
if tuple(known) in KNOWN_NOUNS:  # "digit", "letter (capital or small)": words of the catalogue
    noun = subject = _(drawing_subject(known))
else:  # an image folder's classes: their names as typed
    noun, subject = _("picture"), _("picture of one of: {names}").format(names=", ".join(known))
st.title(":material/draw: " + _("Draw a {subject}").format(subject=noun))
st.caption(
    _(
        "Draw one {subject} with the mouse or a finger, as big as you like, anywhere on the square. "
        "The page turns it into a 28x28 image the way MNIST's digits were made, then asks the model."
    ).format(subject=plain(subject, 300))
)

controls = st.columns([2, 3])
pen = controls[0].slider(
    _("Pen width"), min_value=8, max_value=40, value=22, step=2, key="draw.pen",
    help=_("Thickness of the pen in canvas pixels. MNIST strokes end up 2 to 3 pixels wide in 28x28, "
           "which is a pen of about 20 on this canvas for a digit drawn to fill most of the height."),
)  # fmt: skip
controls[1].caption(
    _("The buttons above the canvas: undo, redo and the bin to start again (the pencil lets you move a stroke).")
)

drawing_column, seen_column, answer_column = st.columns([3, 2, 3])
with drawing_column:
    drawn = st_canvas(
        stroke_width=pen, stroke_color="#000000", background_color="#FFFFFF",
        width=CANVAS_PIXELS, height=CANVAS_PIXELS, drawing_mode="freedraw", return_image_data=True,
        key="draw.canvas",
    )  # fmt: skip

try:
    prepared = canvas.prepare_drawing(drawn.image_data) if drawn.image_data is not None else None
except canvas.EmptyDrawingError:
    prepared = None
if prepared is not None:
    state.drawing, state.inside_source = prepared.image, "drawing"  # the Inside page opens with it
with seen_column:
    st.markdown(_("**As the model sees it**"))
    if prepared is None:
        st.info(_("Draw something first: the canvas is empty."), icon=":material/draw:")
    else:
        st.image(tile(prepared.image[None], cols=1, scale=BIG), output_format="PNG")
        top, left, bottom, right = prepared.box
        st.caption(
            _(
                "Cropped to the ink ({width}x{height} pixels), shrunk by {scale:.2f} so the "
                "longer side is 20 pixels, centred by its centre of mass in 28x28, white on black like MNIST."
            ).format(width=right - left, height=bottom - top, scale=prepared.scale)
        )

with answer_column:
    if result is None:
        not_trained_yet(spec.describe(), _("its answer would be a guess"), _("shows what it makes of your drawing"))
    elif prepared is None:
        st.caption(_("The model's answer appears here once you draw."))
    elif isinstance(spec, MLPSpec):
        names = known
        probabilities = predict.predict_probabilities(spec, result.variables, prepared.image[None])[0]
        best = int(np.argmax(probabilities))
        st.metric(
            _("The model says"), plain(names[best]), _("{share:.0%} sure").format(share=probabilities[best]),
            delta_color="off",
            help=_("The class with the highest probability. The bars show how sure the model is of each class."),
        )  # fmt: skip
        st.plotly_chart(figures.probability_figure(probabilities, names), key="draw.probabilities")
    else:
        rebuilt = predict.reconstruct(spec, result.variables, prepared.image[None])
        error = float(np.mean((rebuilt - prepared.image[None]) ** 2))
        st.markdown(_("**What the autoencoder rebuilds**"))
        st.image(tile(rebuilt, cols=1, scale=BIG), output_format="PNG")
        st.metric(
            _("Reconstruction error"), f"{error:.4f}",
            help=_("Mean squared difference per pixel between your prepared picture and its rebuilt version "
                   "(0 = perfect). Something unlike the training images is rebuilt worse."),
        )  # fmt: skip
        st.caption(
            _(
                "The drawing was squeezed into {size} numbers and drawn again from them: the autoencoder "
                "can only draw what resembles the images it learned from."
            ).format(size=spec.code_size)
        )
