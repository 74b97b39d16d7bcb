"""The one place for objects shared by every visitor (``st.cache_resource``).

Datasets are read-only arrays, safe to share. Models, runs and optimiser state are per
visitor and live in ``components.state`` instead.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas
import pyarrow
import streamlit as st
from PIL import Image

from components.i18n import _
from components.images import tile
from components.server_paths import configured_data_roots, served_to_others
from components.state import DEFAULT_SPECS
from components.words import plain
from core import ablation, inside, predict
from core.data import Dataset, load_dataset
from core.data.archive import UPLOAD_ROOT
from core.errors import CoreError
from core.jax_setup import enable_compilation_cache
from core.runs import store
from core.runs.priority import lower_training_priority
from core.spec import MLPSpec
from core.training import TrainConfig, TrainResult, warm_up

T = TypeVar("T")
_setup_lock = threading.Lock()
_setup_done: list[str | None] = []


def start_process_setup() -> str | None:
    """Once per server process (the server's start, or else the first script run): persistent
    compilation cache, leftovers of killed saves removed, and the default models' programs compiled
    in the background so a first Start is already warm. Returns the cache folder."""
    with _setup_lock:
        if not _setup_done:
            folder = enable_compilation_cache()
            store.remove_leftover_temporaries()  # what a save killed midway left in runs/
            # not a daemon: the interpreter waits for it instead of killing XLA mid-compile at exit
            threading.Thread(target=_warm_up, name="warm-up", daemon=False).start()
            _setup_done.append(folder)
        return _setup_done[0]


@st.cache_resource(show_spinner=False)
def process_setup() -> str | None:
    """``start_process_setup`` (usually done when the server started), and leftovers of killed
    saves removed again whenever Streamlit's resource cache is cleared. Without the server's start
    (AppTest, another ASGI host), the first page's imports are done first: the warm-up thread must
    not import a module while this script run imports it too (either may see it half-initialised)."""
    if not _setup_done:
        prepare_first_page()
    store.remove_leftover_temporaries()
    return start_process_setup()


def prepare_first_page() -> None:
    """What the first script run of a process would otherwise do while its visitor waits: import
    every component the pages use, and work out the default models' layer shapes (flax's
    ``eval_shape``), costs and stack figures, which are cached from then on. Call it while the
    server starts, before it answers (seconds on a busy machine, once)."""
    import importlib
    import pkgutil

    import components
    from components import figures
    from core import costs, models

    for module in pkgutil.iter_modules(components.__path__):
        if not module.ispkg:  # the ``entry`` folder holds the served script, which draws a page
            importlib.import_module(f"components.{module.name}")
    # Streamlit's first element of a process checks once whether it runs in a REPL by walking the
    # stack and every loaded module's source path (half a second on a busy machine): pay it now,
    # without the "missing ScriptRunContext" warnings an element outside a script run logs
    quiet = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        st.empty()
    finally:
        quiet.setLevel(level)
    # the first table of text builds pandas' Arrow-backed strings, importing and setting them up
    pyarrow.Table.from_pandas(pandas.DataFrame([{"layer": "Dense", "units": 1}]))
    for spec in DEFAULT_SPECS.values():
        costs.model_costs(spec, TrainConfig())
        figures.stack_figure(spec).to_json()  # plotly imports its trace and layout classes lazily
        models.dense_layers(spec)


def _warm_up() -> None:
    """Compile the default models' initialisation, training and evaluation programs, at the
    training threads' lower CPU priority: visitors' pages go first."""
    lower_training_priority()
    sample = load_dataset("sample")
    for spec in DEFAULT_SPECS.values():
        try:
            warm_up(spec, TrainConfig(), sample)
        except RuntimeError:  # "cannot schedule new futures after interpreter shutdown": the process is ending
            return


def data_roots() -> tuple[str, ...] | None:
    """Folders the Train page may read IDX files from: any folder when the server only listens on
    this computer, else only below ``FLAX_DASHBOARD_DATA_ROOTS`` (``os.pathsep``-separated) and the
    folder uploaded zips are unpacked into."""
    if not served_to_others():
        return None
    return (*configured_data_roots(), str(UPLOAD_ROOT))


def dataset(name: str) -> Dataset:
    """A dataset by name, loaded once per server process (a DataError is not cached)."""
    return _dataset(name, data_roots())


@st.cache_resource(show_spinner=False, max_entries=4)
def _dataset(name: str, roots: tuple[str, ...] | None) -> Dataset:
    return load_dataset(name, allowed_roots=roots)


def first_images_png(name: str) -> bytes:
    """The Train page's strip of a dataset's first 32 training images, as PNG bytes, encoded
    once per dataset instead of on every rerun while a run is training."""
    return _first_images_png(name, data_roots())


@st.cache_resource(show_spinner=False, max_entries=4)
def _first_images_png(name: str, roots: tuple[str, ...] | None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(tile(_dataset(name, roots).train_images[:32], cols=16, scale=2)).save(buffer, format="PNG")
    return buffer.getvalue()


@st.cache_resource(show_spinner=False, max_entries=64)
def drawn(version: tuple, _draw: Callable[[], T]) -> T:
    """What ``_draw`` makes (a figure, encoded pictures), made once per ``version`` instead of on every
    one-second rerun of a live panel. ``version`` names what it shows: the view, each run's ``cache_id``
    (unique in the process, so visitors never share an entry) and how far its data has come (steps,
    epochs), and the sizes it is drawn at. Read-only once made: ``st.plotly_chart`` only reads a figure."""
    return _draw()


@st.cache_resource(show_spinner=False, max_entries=16)
def test_outputs(cache_id: int, dataset_name: str, _result: TrainResult, _dataset: Dataset) -> dict[str, np.ndarray]:
    """What a trained run's model says about every test image, computed once per run.

    MLP: class probabilities and the confusion matrix [true, predicted]; autoencoder: latent codes
    and the error of each reconstruction.
    (``Run.cache_id`` is unique in the server process, so runs of different visitors never collide.)
    """
    spec, params = _result.spec, _result.variables
    if isinstance(spec, MLPSpec):
        evaluation = predict.evaluate(spec, params, _dataset.test_images, _dataset.test_labels)
        probabilities = predict.predict_probabilities(spec, params, _dataset.test_images)
        return {"probabilities": probabilities, "confusion": evaluation.confusion}
    codes = predict.encode(spec, params, _dataset.test_images)
    rebuilt = predict.reconstruct(spec, params, _dataset.test_images)
    originals = _dataset.test_images.astype(np.float32) / 255.0
    errors = ((rebuilt - originals) ** 2).mean(axis=(1, 2, 3))
    return {"codes": codes, "errors": errors}


#: the Inside page looks for the images that light a unit up among this many test images ...
MOST_ACTIVE_POOL = 5_000
#: ... or fewer, so that one model's values take at most this much memory (4 models are kept)
ACTIVATIONS_BUDGET_BYTES = 64_000_000


@st.cache_resource(show_spinner=False, max_entries=4)
def test_activations(
    model_key: tuple, dataset_name: str, _spec, _variables, _dataset: Dataset
) -> dict[str, np.ndarray]:
    """Every unit's value for the first ``MOST_ACTIVE_POOL`` test images (fewer for a model too wide for
    ``ACTIVATIONS_BUDGET_BYTES``), {layer path: (N, units)}, once per model (``model_key``: ("run",
    cache_id) or ("untrained", spec))."""
    pool = inside.activation_pool(_spec, ACTIVATIONS_BUDGET_BYTES, MOST_ACTIVE_POOL)
    rows, _ = inside.layer_outputs(_spec, _variables, _dataset.test_images[:pool])
    return {row.path: row.values for row in rows}


def test_dataset(result: TrainResult, fallback: str) -> Dataset:
    """The data a run was trained on, for showing its test images; if that is not available here
    (an uploaded run from another computer), the visitor's dataset or the sample, with a warning."""
    for name in (result.dataset, fallback, "sample"):
        try:
            dataset_ = dataset(name)
        except CoreError:
            continue
        if name != result.dataset:
            shown_name = plain(dataset_.name)
            st.warning(
                _("The run's data ({data}) is not available here; showing {shown} instead.").format(
                    data=plain(result.dataset), shown=shown_name
                )
            )
        return dataset_
    raise AssertionError("the bundled sample always loads")


#: the Inside page scores a model with units switched off over this many test images
HELD_OUT_IMAGES = 1_000


@st.cache_resource(show_spinner=False, max_entries=8)
def held_out(dataset_name: str, _dataset: Dataset) -> ablation.HeldOut:
    """The first ``HELD_OUT_IMAGES`` test images of a dataset as floats, with their labels (read-only)."""
    count = min(HELD_OUT_IMAGES, _dataset.num_test)
    images = inside.as_inputs(_dataset.test_images[:count])
    labels = np.array(_dataset.test_labels[:count])
    images.setflags(write=False)
    labels.setflags(write=False)
    return ablation.HeldOut(images, labels)


@st.cache_resource(show_spinner=False, max_entries=16)
def unit_ranking(
    model_key: tuple, dataset_name: str, path: str, _spec, _variables, _held_out
) -> ablation.UnitImportance:
    """Every unit of the layer at ``path`` switched off alone, scored (one vmapped call), once per model and layer."""
    return ablation.unit_importance(_spec, _variables, _held_out, path)


@st.cache_resource(show_spinner=False, max_entries=16)
def pruning_curve(
    model_key: tuple, dataset_name: str, path: str, _spec, _variables, _held_out
) -> ablation.PruningCurve:
    """The score keeping the strongest k units of a layer against k random ones, once per model and layer."""
    return ablation.pruning_curve(_spec, _variables, _held_out, path)


@st.cache_resource(show_spinner=False, max_entries=16)
def unchanged_score(model_key: tuple, dataset_name: str, _spec, _variables, _held_out) -> float:
    """The model's score over the held-out images with every unit on."""
    return ablation.score(_spec, _variables, _held_out, {})
