"""The same model in flax NNX beside linen (the Variables page's NNX tab), and training scripts to download."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np
import streamlit as st
from flax import nnx

from components import resources
from components.i18n import N_, _
from components.tree_view import treescope_html
from core import models, nnx_models
from core.code_export import APIS, nnx_source, script_dataset, script_name, training_script
from core.data import dataset_title
from core.nnx_models import TONNX_CODE
from core.spec import ModelSpec
from core.training import TrainConfig
from core.training.programs import to_float

TREE_HEIGHT = 420
CHECK_IMAGES = 64  # test images the ToNNX check runs on
NNX_ONLY, SCALAR = N_("— (NNX only)"), N_("scalar")


def script_downloads(spec: ModelSpec, config: TrainConfig, dataset: str, key: str, trained: bool) -> None:
    """Two download buttons: a standalone training script of ``spec`` with ``config``, in linen or NNX,
    downloading ``dataset`` (the run's, or the one chosen) where it can."""
    settings = _("{optimizer}, learning rate {rate:g}, batch {batch}, {epochs} epochs").format(
        optimizer=config.optimizer, rate=config.learning_rate, batch=config.batch_size, epochs=config.epochs
    )
    if trained:
        said = _("**Train it on your own computer**: a standalone Python script with this model and this run's "
                 "settings ({settings}).")  # fmt: skip
    else:
        said = _("**Train it on your own computer**: a standalone Python script with this model and the Train "
                 "page's settings ({settings}).")  # fmt: skip
    st.markdown(
        said.format(settings=settings)
        + " "
        + _("It needs only `pip install jax flax optax numpy`, reads MNIST-style IDX files (`--idx-dir DIR`) or "
            "downloads {dataset}, and prints the test score at the end.").format(
                dataset=dataset_title(script_dataset(dataset)[0], gettext=_))
    )  # fmt: skip
    for column, api in zip(st.columns(len(APIS)), APIS, strict=True):
        with column:
            st.download_button(
                _("Training script ({api})").format(api=APIS[api]), training_script(spec, config, api, dataset),
                file_name=script_name(spec, api), mime="text/x-python", key=f"{key}.script_{api}",
                icon=":material/download:", on_click="ignore", width="stretch",
            )  # fmt: skip


@dataclass(frozen=True)
class NNXView:
    """What the NNX tab shows, computed once per model and values."""

    tree_html: str
    rows: list[dict[str, Any]]
    bridge_difference: float
    bridge_paths: list[str]


def _nnx_view(spec: ModelSpec, variables: Any, images: np.ndarray) -> NNXView:
    twin = nnx_models.with_linen_values(spec, variables)
    _graph, state = nnx.split(twin)
    rows = [  # in English: the view is kept for every visitor; the table is translated where it is shown
        {"linen path": row.linen or NNX_ONLY, "NNX path": row.nnx, "type": row.variable_type,
         "shape": " x ".join(map(str, row.shape)) or SCALAR, "numbers": row.count}
        for row in nnx_models.path_rows(spec)
    ]  # fmt: skip
    x = to_float(jnp.asarray(images))
    linen = models.build_model(spec).apply(models.as_variables(variables), x, train=False)
    bridged = nnx_models.bridged(spec, variables)
    paths = [".".join(map(str, path)) for path, _value in nnx.to_flat_state(nnx.state(bridged, nnx.Param))]
    return NNXView(
        tree_html=treescope_html(state, TREE_HEIGHT),
        rows=rows,
        bridge_difference=float(jnp.max(jnp.abs(bridged(x, train=False) - linen))),
        bridge_paths=paths,
    )


def nnx_tab(spec: ModelSpec, variables: Any, version: tuple, trained: bool) -> None:
    """The model in flax NNX: code, state tree, the linen -> NNX table and ``nnx.bridge.ToNNX``."""
    st.markdown(_(
        "**The same model in flax NNX**, flax's newer way of writing models. In linen (the other tabs) the model "
        "is a description and its numbers live outside it, in the `variables` dictionary handed to "
        "`model.apply`. In NNX the model is an ordinary Python object that **holds its numbers** as attributes: "
        "`variables['params']['Dense_0']['kernel']` becomes `model.dense_0.kernel`. Each number is tagged with its "
        "type: `nnx.Param` for what the optimizer learns, `nnx.BatchStat` for BatchNorm's running averages (linen's "
        "`batch_stats`). Instead of a `train` flag, `model.train()` and `model.eval()` switch the mode."
    ))  # fmt: skip
    images = resources.dataset("sample").test_images[:CHECK_IMAGES]
    view = resources.drawn(("variables.nnx", *version), lambda: _nnx_view(spec, variables, images))
    st.caption(_("The NNX code of this model (copy button at the top right): the layers are created in `__init__`, "
                 "with `rngs` to draw their starting values, and applied in `__call__`."))  # fmt: skip
    st.code(nnx_source(spec), language="python", height=TREE_HEIGHT)
    if trained:
        st.caption(_("`nnx.split(model)` separates the model's structure from its variables, a tree holding this "
                     "run's trained values (copied from linen). Click ▼ or ▶ to fold or open a layer."))  # fmt: skip
    else:
        st.caption(_("`nnx.split(model)` separates the model's structure from its variables, a tree holding the "
                     "starting values (copied from linen). Click ▼ or ▶ to fold or open a layer."))  # fmt: skip
    st.iframe(view.tree_html, height=TREE_HEIGHT)
    st.markdown(_("**Where each linen array is in NNX**: the same numbers, the same shapes, new names."))
    st.dataframe(
        [{_(name): _(value) if value in (NNX_ONLY, SCALAR) else value for name, value in row.items()}
         for row in view.rows],
        hide_index=True, key="variables.nnx_paths",
        column_config={
            _("linen path"): st.column_config.TextColumn(help=_("collection / layer / array in the linen variables")),
            _("NNX path"): st.column_config.TextColumn(
                help=_("attribute path in the NNX model: model.dense_0.kernel")
            ),
            _("type"): st.column_config.TextColumn(
                help=_("nnx.Param: learned; nnx.BatchStat: running averages; nnx.RngKey / RngCount: Dropout's own "
                       "random stream, which linen gets as rngs={{'dropout': key}} at each call instead").format()
            ),
            _("numbers"): st.column_config.NumberColumn(format="localized"),
        },
    )  # fmt: skip
    st.markdown(_(
        "**Or keep the linen model and wrap it**: `nnx.bridge.ToNNX` turns a linen module into an NNX one in one "
        "line, its variables keeping linen's names."
    ))  # fmt: skip
    st.code(TONNX_CODE, language="python")
    st.caption(
        _("Run here on {count} test images: the wrapped model's outputs differ from linen's by at most "
          "{difference:.1g}. Its parameters: {paths}").format(
            count=CHECK_IMAGES, difference=view.bridge_difference,
            paths=", ".join(f"`{p}`" for p in view.bridge_paths[:8]) + (" …" if len(view.bridge_paths) > 8 else ""))
    )  # fmt: skip
