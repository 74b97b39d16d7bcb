"""Training you can watch: what the model being trained does right now, redrawn with the curve.

A few test images and the model's answers (or its reconstructions), the map of latent codes
(autoencoder) and the first layer's weights as images, all from the parameters of the job's
latest report (``TrainingJob.latest_variables``), so a room sees the model learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from components import figures, resources
from components.i18n import _, language
from components.images import png_data_url, tile
from components.ui import explain, height, image_scale
from components.words import plain
from core.data import Dataset
from core.live import LIVE_IMAGES, WEIGHT_UNITS, compute_live_views
from core.spec import ModelSpec


@dataclass(frozen=True)
class LivePictures:
    """The live views of one set of parameters, ready to send: pictures as PNG data URLs, their words."""

    examples: str  # test images (and the autoencoder's rebuilt ones below them)
    examples_caption: str
    weights: str
    map_figure: go.Figure | None  # autoencoder: the latent map
    map_caption: str


def live_pictures(
    spec: ModelSpec, variables: Any, dataset: Dataset, image_scales: tuple[int, int], map_height: int
) -> LivePictures:
    """Compute and encode the live views (a few small jitted calls, two PNG encodes): once per report."""
    views = compute_live_views(spec, variables, dataset)
    names = dataset.class_names
    if views.answers is not None:
        examples = tile(views.images, cols=LIVE_IMAGES, scale=image_scales[0])
        said = [
            f"{'✓' if a == t else '✗'} {plain(names[a])} ({c:.0%})"
            for a, t, c in zip(views.answers, views.labels, views.confidence, strict=True)
        ]
        caption = _("Its answers: {answers}").format(answers=" · ".join(said))
    else:
        both = np.concatenate([views.images.astype(np.float32) / 255.0, views.rebuilt])
        examples = tile(both, cols=LIVE_IMAGES, scale=image_scales[0])
        caption = _("Top: test images. Below: what the autoencoder rebuilds from their codes right now.")
    weights = tile(views.weights, cols=WEIGHT_UNITS // 2, scale=image_scales[1])
    map_figure, map_caption = None, ""
    if views.map_points is not None:
        share = views.map_share
        titles = (
            (_("code number 1"), _("code number 2"))
            if spec.code_size <= 2
            else (
                _("main direction 1 ({share:.0%})").format(share=share[0]),
                _("main direction 2 ({share:.0%})").format(share=share[1]),
            )
        )
        map_figure = figures.latent_figure(views.map_points, views.map_labels, names, titles, height=map_height)
        map_caption = _("The codes of {count:,} test images: the classes sort themselves out as it learns.").format(
            count=len(views.map_points)
        )
    return LivePictures(png_data_url(examples), caption, png_data_url(weights), map_figure, map_caption)


def watch_learning(version: tuple, spec: ModelSpec, variables: Any, dataset: Dataset, step: int) -> None:
    """Draw the live views of the model as it is after ``step`` steps; ``version`` names its parameters
    (the run's ``cache_id`` and ``step``): the pictures are made once per version, not once per rerun."""
    scales, map_height = (image_scale(3), image_scale(2)), height(340)
    pictures = resources.drawn(
        ("live", *version, scales, map_height, language()),
        lambda: live_pictures(spec, variables, dataset, scales, map_height),
    )
    st.markdown("#### " + _("The model after {steps:,} steps").format(steps=step))
    left, right = st.columns([3, 2])
    with left:
        st.image(pictures.examples)
        st.caption(pictures.examples_caption)
        st.image(
            pictures.weights,
            caption=_(
                "The first {count} units of the first layer: their weights as images "
                "(light: ink there pushes the unit up, dark: pushes it down, grey: no effect)"
            ).format(count=WEIGHT_UNITS),
        )
    with right:
        if pictures.map_figure is not None:
            st.plotly_chart(pictures.map_figure, key="train.live_map")
            explain(pictures.map_caption)
    explain(_("These views follow the training live: random weights look like noise, learned ones like strokes."))
