"""Variables: the tree ``model.init(...)`` returns, its numbers, the flax code of the model, the same model in
flax NNX, and training scripts to take home."""

from __future__ import annotations

import numpy as np
import streamlit as st

from components import conv_views, figures
from components.frame import require_frame
from components.state import get_state
from components.take_home import nnx_tab, script_downloads
from components.tree_view import treescope_html
from components.ui import explain, extreme_values_notice, height
from components.words import plain
from core import models
from core.costs import parameter_diff
from core.data import dataset_title
from core.norm_layers import BatchNorm, LayerNorm
from core.variables import (
    batch_stats_rows,
    collections,
    flax_source,
    get_leaf,
    layer_rows,
    tree_outline,
    variable_rows,
)

require_frame()

INIT_WAIT_S = 0.2  # a new shape's model.init compiles in ~0.5 s: show a notice instead of a frozen page


@st.fragment(run_every=0.25)
def wait_then_rerun(job) -> None:
    if job.done():
        st.rerun(scope="app")


state = get_state()
spec = state.spec
trained = state.trained_result()

st.title(":material/account_tree: Look inside the variables")
if trained is not None:
    variables = trained.variables
    extreme_values_notice(trained.params)
    run = state.trained_run()
    st.success(
        f"Showing the **trained** values of run {run.run_id} "
        f"({len(trained.history.epochs)} epochs on {plain(dataset_title(trained.dataset, trained.dataset))}).",
        icon=":material/school:",
    )
else:
    initialising = models.prepare_init(spec)
    try:
        initialising.result(timeout=INIT_WAIT_S)
    except TimeoutError:
        st.info(
            f"Computing `model.init` for this new shape ({spec.parameter_count:,} parameters): flax compiles it "
            "once per shape, then every seed and every visit is instant.",
            icon=":material/hourglass_top:",
        )
        wait_then_rerun(initialising)
        st.stop()
    variables = models.init_variables(spec)
    st.info(
        f"Showing the **starting** values: `model.init(jax.random.key({spec.seed}), x)` with an all-zero "
        "28x28 image `x`. Train the model to see how they change.",
        icon=":material/eco:",
    )

every_row = variable_rows(variables)
rows = [row for row in every_row if row.path.startswith("params/")]  # what the optimizer learns
layers = layer_rows(rows)
total = sum(row.size for row in rows)
norm_kinds = [kind.title for kind in (BatchNorm, LayerNorm) if any(isinstance(layer, kind) for layer in spec.layers)]
norms = f" Each {' and '.join(norm_kinds)} layer holds a **scale** and a **bias** per value." if norm_kinds else ""

st.markdown(
    f"**{total:,} parameters** in {len(layers)} layers. Each Dense layer holds a **kernel** "
    f"(one weight per connection: inputs x units) and a **bias** (one number per unit).{norms}"
)
found = collections(every_row)
st.markdown(
    f"`model.init` returns {len(found)} collection{'s' if len(found) > 1 else ''}: "
    + "; ".join(f"**`{c.name}`** ({c.numbers:,} numbers in {c.arrays:,} arrays): {c.meaning}" for c in found)
    + "."
)
with st.expander("Training mode and evaluation mode", icon=":material/school:", expanded=spec.has_batchnorm):
    st.markdown(
        "The model's `__call__` takes a `train` flag, as in the flax documentation:\n\n"
        "- **Training** (`train=True`): Dropout zeroes a random share of the values at each step, so it needs a "
        "random key, `rngs={'dropout': key}` (here: the run's seed combined with the step number, so the same "
        "seed gives the same run). BatchNorm normalises with the mean and variance of the current batch and "
        "updates its running averages in `batch_stats`, which is why the step calls "
        "`model.apply(variables, x, train=True, mutable=['batch_stats'])` and keeps the new `batch_stats` it returns.\n"
        "- **Evaluation** (`train=False`): Dropout is off (nothing is dropped, so two evaluations give the very same "
        "answer) and BatchNorm uses the running averages in `batch_stats` instead of the batch's own statistics. "
        "Test scores, predictions and drawings all use this mode.\n\n"
        + (
            "This model has neither Dropout nor BatchNorm, so both modes compute the same thing."
            if not spec.has_dropout and not spec.has_batchnorm
            else "Add or remove these layers on the Build page to see the collections change."
        )
    )
stats = [("before training", row) for row in batch_stats_rows(variables)]
if stats and trained is not None:  # the same layers as flax's model.init made them, then as trained
    start = batch_stats_rows(models.init_variables(trained.spec))
    stats = [*(("before training", row) for row in start), *(("after training", row) for _, row in stats)]
if stats:
    st.markdown(
        "**BatchNorm's batch statistics** (`batch_stats`), before and after training: every mean starts at 0, "
        "every variance at 1, and training moves them towards the data's own."
        if trained is not None
        else "**BatchNorm's batch statistics** (`batch_stats`) before training: every mean starts at 0, every "
        "variance at 1. Train the model to see them after training beside these."
    )
    st.dataframe(
        [
            {"when": when, "layer": row.module, "units": row.units, "average running mean": row.mean_of_means,
             "average running variance": row.mean_of_variances, "smallest variance": row.min_variance,
             "largest variance": row.max_variance}
            for when, row in stats
        ],
        hide_index=True,
        key="variables.batch_stats",
        column_config={
            "units": st.column_config.NumberColumn(help="values this layer normalises", format="localized"),
            "average running mean": st.column_config.NumberColumn(
                help="the running means (one per unit) averaged: what BatchNorm subtracts when evaluating",
                format="%.4f",
            ),
            "average running variance": st.column_config.NumberColumn(
                help="the running variances averaged: BatchNorm divides by their square root when evaluating",
                format="%.4f",
            ),
            "smallest variance": st.column_config.NumberColumn(format="%.4f"),
            "largest variance": st.column_config.NumberColumn(format="%.4f"),
        },
    )  # fmt: skip

# the widget forgets its tab when the visitor opens another page; the visitor's state does not
if "variables.tab" not in st.session_state and state.variables.tab is not None:
    st.session_state["variables.tab"] = state.variables.tab
# Only the open tab runs and is sent: heavy views (treescope, heatmaps) cost nothing until asked for.
tree_tab, table_tab, sizes_tab, kernel_tab, code_tab, nnx_tab_ = st.tabs(
    ["Tree", "Table of every array", "Where the parameters are", "Look at one kernel", "flax code", "flax NNX"],
    key="variables.tab", on_change="rerun",
)  # fmt: skip
state.variables.tab = st.session_state.get("variables.tab")

if tree_tab.open:
    with tree_tab:
        left, right = st.columns([1, 1.3])
        with left:
            st.caption(
                "The nested dictionary `model.init` returns: collection → layer → arrays. Click to fold. "
                "`float32[784,512]` is a table of 784 x 512 decimal numbers (float32: 4 bytes each)."
            )
            st.json(tree_outline(variables), expanded=3)
        with right:
            st.caption(
                "The same tree in treescope, a viewer for pytrees (JAX's word for nested dictionaries and lists of "
                "arrays), with a summary of the values."
            )
            st.iframe(treescope_html(variables, 420), height=420)

if table_tab.open:
    with table_tab:
        st.dataframe(
            [
                {
                    "path": row.path,
                    "shape": " x ".join(str(d) for d in row.shape),
                    "dtype": row.dtype,
                    "parameters": row.size,
                    "mean": row.mean,
                    "std": row.std,
                    "min": row.min,
                    "max": row.max,
                    "histogram": list(row.histogram),
                }
                for row in every_row
            ],
            hide_index=True,
            key="variables.table",
            column_config={
                "path": st.column_config.TextColumn(
                    help="collection / layer / array, as in variables['params']['Dense_0']"
                ),
                "parameters": st.column_config.NumberColumn(
                    help="how many numbers this array holds (batch_stats are not learned by the optimizer)",
                    format="localized",
                ),
                "mean": st.column_config.NumberColumn(help="average value", format="%.4f"),
                "std": st.column_config.NumberColumn(
                    help="standard deviation: how spread out the values are", format="%.4f"
                ),
                "min": st.column_config.NumberColumn(format="%.4f"),
                "max": st.column_config.NumberColumn(format="%.4f"),
                "histogram": st.column_config.BarChartColumn(help="how the values are spread, from min to max"),
            },
        )
        st.caption(
            "Before training, kernels start random with std about 1/√inputs (LeCun normal) and biases start at 0."
        )

if sizes_tab.open:
    with sizes_tab:
        st.plotly_chart(figures.treemap_figure(rows, height=height(420)), key="variables.treemap")
        explain(
            "Each box is one array; its area is how many numbers it holds. Most parameters sit in the widest layers."
        )
        previous = state.previous_spec
        if previous is not None and type(previous) is type(spec) and previous != spec:
            st.markdown(f"**Compared with the previous model** ({previous.describe()}): {state.last_change}")
            st.dataframe(
                [d.in_words() for d in parameter_diff(previous, spec)],
                hide_index=True,
                key="variables.diff",
                column_config={
                    "before": st.column_config.TextColumn(help="parameters of this layer in the previous model"),
                    "change": st.column_config.TextColumn(help="parameters added (+) or removed (-)"),
                },
            )
        st.dataframe(
            [
                {
                    "layer": layer.module,
                    "arrays": ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in layer.shapes.items()),
                    "parameters": layer.parameters,
                    "share": layer.parameters / total,
                }
                for layer in layers
            ],
            hide_index=True,
            key="variables.layers",
            column_config={
                "parameters": st.column_config.NumberColumn(format="localized"),
                "share": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
            },
        )  # fmt: skip

if kernel_tab.open:
    with kernel_tab:
        kernels = [row.path for row in rows if row.name == "kernel"]
        chosen = st.selectbox(
            "Kernel", kernels, key="variables.kernel", help="A weight matrix: inputs down, units across"
        )
        kernel = get_leaf(variables, chosen)
        if kernel.ndim == 4:  # a convolution's (kernel, kernel, in channels, out channels)
            conv_views.conv_kernel(chosen, kernel)
            st.stop()
        left, right = st.columns(2)
        with left:
            st.plotly_chart(
                figures.kernel_heatmap(
                    kernel, f"{chosen}: {kernel.shape[0]:,} x {kernel.shape[1]:,}", height=height(420)
                ),
                key="variables.heatmap",
            )
            explain("Each square is one weight: red pulls the unit's output up, blue pulls it down.")
        with right:
            st.plotly_chart(
                figures.histogram_figure(kernel, f"values of {chosen}", height=height(300)), key="variables.histogram"
            )
            st.caption(f"mean {float(np.mean(kernel)):.4f}, std {float(np.std(kernel)):.4f}")
        if kernel.shape[0] == spec.input_size:
            st.markdown(
                "**What the first units look for**: each square is one unit's weights laid out as a 28x28 image."
            )
            st.plotly_chart(figures.receptive_field_figure(kernel, height=height(420)), key="variables.fields")
            explain("Red pixels make the unit fire, blue ones hold it back. After training, shapes of strokes appear.")

if code_tab.open:
    with code_tab:
        st.caption("Runnable flax.linen code for this exact model (copy button at the top right of the box).")
        st.code(flax_source(spec), language="python")
        script_downloads(spec, run.config if trained is not None else state.config, "variables", trained is not None)

if nnx_tab_.open:
    with nnx_tab_:
        version = ("run", run.cache_id) if trained is not None else ("init", spec)
        nnx_tab(spec, variables, version, trained is not None)
        script_downloads(
            spec, run.config if trained is not None else state.config, "variables.nnx", trained is not None
        )
