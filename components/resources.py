"""The one place for objects shared by every visitor (``st.cache_resource``).

Datasets are read-only arrays, safe to share. Models, runs and optimiser state are per
visitor and live in ``components.state`` instead.
"""

from __future__ import annotations

import threading

import numpy as np
import streamlit as st

from core import models, predict
from core.data import Dataset, load_dataset
from core.jax_setup import enable_compilation_cache
from core.train import TrainResult


@st.cache_resource(show_spinner=False)
def process_setup() -> str | None:
    """Once per server process: persistent compilation cache, and compile the init previews
    in the background so the first width changes are already instant."""
    folder = enable_compilation_cache()
    # not a daemon: the interpreter waits for it instead of killing XLA mid-compile at exit
    threading.Thread(target=models.warm_up_preview, name="warm-up", daemon=False).start()
    return folder


@st.cache_resource(show_spinner=False, max_entries=4)
def dataset(name: str) -> Dataset:
    """A dataset by name, loaded once per server process (a DataError is not cached)."""
    return load_dataset(name)


@st.cache_resource(show_spinner=False, max_entries=16)
def test_outputs(run_id: int, dataset_name: str, _result: TrainResult, _dataset: Dataset) -> dict[str, np.ndarray]:
    """What a trained run's model says about every test image, computed once per run.

    MLP: class probabilities; autoencoder: latent codes and the error of each reconstruction.
    (Run ids are unique in the server process, so runs of different visitors never collide.)
    """
    spec, params = _result.spec, _result.params
    if spec.kind == "mlp":
        return {"probabilities": predict.predict_probabilities(spec, params, _dataset.test_images)}
    codes = predict.encode(spec, params, _dataset.test_images)
    rebuilt = predict.reconstruct(spec, params, _dataset.test_images)
    originals = _dataset.test_images.astype(np.float32) / 255.0
    errors = ((rebuilt - originals) ** 2).mean(axis=(1, 2, 3))
    return {"codes": codes, "errors": errors}
