"""Training you can watch: what the model being trained does right now, redrawn with the curve.

A few test images and the model's answers (or its reconstructions), the map of latent codes
(autoencoder) and the first layer's weights as images, all from the parameters of the job's
latest report (``TrainingJob.latest_variables``), so a room sees the model learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from components import figures
from components.images import tile
from components.ui import explain, height, image_scale
from components.words import plain
from core.data import Dataset
from core.live import LIVE_IMAGES, WEIGHT_UNITS, compute_live_views
from core.spec import ModelSpec


def watch_learning(spec: ModelSpec, variables: Any, dataset: Dataset, step: int) -> None:
    """Draw the live views of the model as it is after ``step`` steps."""
    views = compute_live_views(spec, variables, dataset)
    names = dataset.class_names
    st.markdown(f"#### The model after {step:,} steps")
    left, right = st.columns([3, 2])
    with left:
        if views.answers is not None:
            st.image(tile(views.images, cols=LIVE_IMAGES, scale=image_scale(3)), output_format="PNG")
            said = [
                f"{'✓' if a == t else '✗'} {plain(names[a])} ({c:.0%})"
                for a, t, c in zip(views.answers, views.labels, views.confidence, strict=True)
            ]
            st.caption("Its answers: " + " · ".join(said))
        else:
            both = np.concatenate([views.images.astype(np.float32) / 255.0, views.rebuilt])
            st.image(tile(both, cols=LIVE_IMAGES, scale=image_scale(3)), output_format="PNG")
            st.caption("Top: test images. Below: what the autoencoder rebuilds from their codes right now.")
        st.image(
            tile(views.weights, cols=WEIGHT_UNITS // 2, scale=image_scale(2)), output_format="PNG",
            caption=f"The first {WEIGHT_UNITS} units of the first layer: their weights as images "
            "(light: ink there pushes the unit up, dark: pushes it down, grey: no effect)",
        )  # fmt: skip
    with right:
        if views.map_points is not None:
            share = views.map_share
            titles = (
                ("code number 1", "code number 2")
                if spec.code_size <= 2
                else (f"main direction 1 ({share[0]:.0%})", f"main direction 2 ({share[1]:.0%})")
            )
            st.plotly_chart(
                figures.latent_figure(views.map_points, views.map_labels, names, titles, height=height(340)),
                key="train.live_map",
            )
            explain(f"The codes of {len(views.map_points):,} test images: the digits sort themselves out as it learns.")
    explain("These views follow the training live: random weights look like noise, learned ones like strokes.")
