"""Results: what the trained model does with test images it never saw.

AutoEncoder: originals above their reconstructions, and the map of latent codes.
MLP: predictions with confidences, the confusion matrix and the most confused images.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from components import figures, resources
from components.frame import page, require_frame
from components.i18n import N_, _, error_text, language, ngettext
from components.images import tile
from components.report import run_report
from components.state import get_state
from components.ui import explain, extreme_values_notice, height, image_scale, not_trained_yet
from components.words import option_text, plain
from core import predict
from core.data import dataset_title
from core.errors import CoreError
from core.spec import AutoEncoderSpec

require_frame()

GRID = 12
PER_ROW = 6

state = get_state()
spec = state.spec
result = state.trained_result()

st.title(":material/image: " + (_("Reconstructions") if isinstance(spec, AutoEncoderSpec) else _("Predictions")))
if result is None:
    not_trained_yet(spec.describe(), N_("it would only show noise"), N_("shows what it does with test images"))
    st.stop()
extreme_values_notice(result.params)


def open_inside(index: int) -> None:
    """Show what every unit of the model does with this test image, on the Inside page."""
    state.inside_image, state.inside_source = int(index), "test"
    st.switch_page(page("pages/inside.py"))


dataset = resources.test_dataset(result, state.dataset_name)
run = state.trained_run()
outputs = resources.test_outputs(run.cache_id, dataset.name, result, dataset)
rng = np.random.default_rng(state.results.seed)
shown = rng.choice(dataset.num_test, size=min(GRID, dataset.num_test), replace=False)

top = st.columns([4, 1], vertical_alignment="bottom")
top[0].caption(
    _("Run {run} on {count:,} test images of {data} that it never trained on.").format(
        run=run.run_id, count=dataset.num_test, data=_(dataset_title(dataset.name))
    )
)
if top[1].button(_("New random images"), icon=":material/casino:", key="results.shuffle"):
    state.results.seed += 1
    st.rerun()

if isinstance(spec, AutoEncoderSpec):
    errors = outputs["errors"]
    baseline = predict.mean_image_mse(dataset.train_images, dataset.test_images)
    m = st.columns(3)
    m[0].metric(
        _("Reconstruction error (test)"), f"{errors.mean():.4f}",
        help=_("Mean squared difference per pixel (0 = perfect)"),
    )  # fmt: skip
    m[1].metric(
        _("Error of drawing the average image"), f"{baseline:.4f}",
        help=_("What a model that ignores its input would score: the autoencoder should be well below this"),
    )  # fmt: skip
    m[2].metric(
        _("Code size"), ngettext("{n} number", "{n} numbers", spec.code_size).format(n=spec.code_size),
        help=_("Each image is squeezed into this many numbers"),
    )  # fmt: skip
    rebuilt = predict.reconstruct(spec, result.variables, dataset.test_images[shown])
    st.image(
        tile(dataset.test_images[shown], cols=GRID, scale=image_scale(3)), output_format="PNG", caption=_("Test images")
    )
    st.image(
        tile(rebuilt, cols=GRID, scale=image_scale(3)),
        output_format="PNG",
        caption=_("What the autoencoder rebuilt from the code"),
    )
    cols = st.columns(GRID)
    for col, index in zip(cols, shown, strict=True):
        col.caption(_("err {error:.3f}").format(error=errors[index]))
    inside_row = st.columns([2, 2, 3], vertical_alignment="bottom")
    inside_pick = inside_row[0].selectbox(
        _("One of these images"), shown.tolist(), format_func=lambda i: f"#{i}", key="results.inside_pick"
    )
    if inside_row[1].button(_("Look inside the network"), icon=":material/neurology:", key="results.inside"):
        open_inside(inside_pick)

    st.markdown("### " + _("The latent map"))
    try:
        points, share = predict.project_2d(outputs["codes"])
    except CoreError as err:  # e.g. an uploaded model whose codes are infinite
        points = None
        st.warning(
            _("The latent map cannot be drawn: {reason}.").format(reason=error_text(err)), icon=":material/warning:"
        )
    if points is not None:
        if spec.code_size == 2:
            titles = (_("code number 1"), _("code number 2"))
            st.caption(_("Every test image is a point at its 2-number code. Similar images land close together."))
        else:
            titles = (
                _("main direction 1 ({share:.0%} of the spread)").format(share=share[0]),
                _("main direction 2 ({share:.0%} of the spread)").format(share=share[1]),
            )
            st.caption(
                _(
                    "The codes have {size} numbers; this map shows the two directions in which they differ most "
                    'from image to image (found by PCA, principal component analysis). "{share:.0%} of the spread" '
                    "means that share of all the differences between codes lies along that direction. "
                    "Similar images land close together."
                ).format(size=spec.code_size, share=share[0])
            )
        st.plotly_chart(
            figures.latent_figure(points, dataset.test_labels, dataset.class_names, titles, height=height(480)),
            key="results.latent",
        )
else:
    probabilities = outputs["probabilities"]
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    right = predicted == dataset.test_labels
    names = dataset.class_names
    said = [plain(name) for name in names]  # for markdown; the figures and choices take the names as they are
    m = st.columns(3)
    m[0].metric(
        _("Test accuracy"), f"{right.mean():.1%}", help=_("Share of test images whose highest score is the true class")
    )
    m[1].metric(_("Wrong"), _("{wrong:,} of {total:,}").format(wrong=(~right).sum(), total=dataset.num_test))
    m[2].metric(
        _("Average confidence"), f"{confidence.mean():.0%}", help=_("The probability the model gives its own answer")
    )
    st.markdown("**" + _("Random test images and the model's answers") + "**")
    # each image carries its own answer: rows of 6 are wide enough for "T-shirt/top (97%)" on one line,
    # and on a phone the columns stack as image, answer, image, answer... instead of a strip and a list
    answers = st.container(key="results-answers")  # a grid of three on a phone (components.ui)
    for start in range(0, len(shown), PER_ROW):
        cols = answers.columns(PER_ROW)
        for col, index in zip(cols, shown[start : start + PER_ROW], strict=False):
            mark = ":green[:material/check:]" if right[index] else ":red[:material/close:]"
            col.image(tile(dataset.test_images[index][None], cols=1, scale=image_scale(3)), output_format="PNG")
            col.caption(f"{mark} {said[predicted[index]]} ({confidence[index]:.0%})")

    left, right_col = st.columns(2)
    with left:
        st.markdown("### " + _("Confusion matrix"))
        confusion = outputs["confusion"]
        event = st.plotly_chart(
            figures.confusion_figure(confusion, names, height=height(460)), key="results.confusion",
            on_select="rerun", selection_mode="points",
        )  # fmt: skip
        clicked = [p.get("customdata") for p in (event.selection.points if event else []) if p.get("customdata")]
        if clicked and st.session_state.get("results.last_click") != clicked[0]:
            # a new click on a square chooses it below (the selection persists across reruns: apply it once)
            st.session_state["results.last_click"] = clicked[0]
            st.session_state["results.cell_true"], st.session_state["results.cell_pred"] = map(int, clicked[0])
        explain(_("Rows: the true class. Columns: the model's answer. Numbers off the diagonal are mistakes. "
                  "Click a square to see its images."))  # fmt: skip
    with right_col:
        st.markdown("### " + _("The images in one square"))
        pick = st.columns(2)
        true_class = pick[0].selectbox(
            _("True class"), range(len(names)), format_func=lambda i: option_text(names[i]), key="results.cell_true",
            index=int(np.argmax(confusion - np.diag(np.diag(confusion))) // len(names)),
        )  # fmt: skip
        said_class = pick[1].selectbox(
            _("Model's answer"), range(len(names)), format_func=lambda i: option_text(names[i]),
            key="results.cell_pred",
            index=int(np.argmax(confusion - np.diag(np.diag(confusion))) % len(names)),
        )  # fmt: skip
        cell = np.flatnonzero((dataset.test_labels == true_class) & (predicted == said_class))
        cell = cell[np.argsort(-confidence[cell])]
        if cell.size == 0:
            st.info(
                _("No test image of {true} was answered {answer}.").format(
                    true=said[true_class], answer=said[said_class]
                )
            )
        else:
            st.image(tile(dataset.test_images[cell[:24]], cols=8, scale=image_scale(3)), output_format="PNG")
            st.caption(
                ngettext(
                    "{count} image of {true} the model called {answer}, most confident first: {confidences}",
                    "{count} images of {true} the model called {answer}, most confident first: {confidences}",
                    cell.size,
                ).format(
                    count=cell.size, true=said[true_class], answer=said[said_class],
                    confidences=", ".join(f"{confidence[i]:.0%}" for i in cell[:24]),
                )
            )  # fmt: skip
        st.markdown("### " + _("One image in detail"))
        one = st.selectbox(_("Test image"), shown.tolist(), format_func=lambda i: f"#{i}", key="results.pick")
        detail = st.columns([1, 3])
        detail[0].image(tile(dataset.test_images[[one]], cols=1, scale=image_scale(4)), output_format="PNG")
        detail[1].plotly_chart(
            figures.probability_figure(probabilities[one], names, height=height(260)), key="results.probabilities"
        )
        explain(_("The model's probability for each class: the tallest bar is its answer."))
        if st.button(_("Look inside the network with this image"), icon=":material/neurology:", key="results.inside"):
            open_inside(one)

st.divider()
title, visitor_language = _("Run {run}: {label}").format(run=run.run_id, label=run.label), language()
st.download_button(
    _("Download a report of this run (HTML)"), icon=":material/summarize:", key="results.report",
    data=lambda: run_report(result, dataset, title, language=visitor_language),
    file_name=f"run{run.run_id}-report.html", mime="text/html",
    help=_("One file with the model, its flax code, the curves, example results and timings; opens offline"),
)  # fmt: skip
