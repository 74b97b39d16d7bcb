"""Variables: the tree ``model.init(...)`` returns, its numbers, the flax code of the model, the same model in
flax NNX, and training scripts to take home."""

from __future__ import annotations

import jax
import numpy as np
import streamlit as st

from components import conv_views, figures
from components.frame import require_frame
from components.i18n import N_, _, message_text, ngettext
from components.state import get_state
from components.take_home import nnx_tab, script_downloads
from components.tree_view import treescope_html
from components.ui import explain, extreme_values_notice, height
from components.variables_views import batch_stats_table, training_modes
from components.words import plain
from core import models
from core.costs import parameter_diff
from core.data import dataset_title
from core.norm_layers import BatchNorm, LayerNorm
from core.variables import (
    collections,
    flax_source,
    get_leaf,
    layer_rows,
    tree_outline,
    variable_rows,
)

require_frame()

INIT_WAIT_S = 0.2  # a new shape's model.init compiles in ~0.5 s: show a notice instead of a frozen page


def leaf_words(outline: str) -> str:
    """One leaf of ``tree_outline`` ("float32[784,512] (401,408 values)") in the visitor's language."""
    array, count = outline.removesuffix(" values)").rsplit(" (", 1)
    return _("{array} ({count} values)").format(array=array, count=count)


@st.fragment(run_every=0.25)
def wait_then_rerun(job) -> None:
    if job.done():
        st.rerun(scope="app")


state = get_state()
spec = state.spec
trained = state.trained_result()

st.title(":material/account_tree: " + _("Look inside the variables"))
if trained is not None:
    variables = trained.variables
    extreme_values_notice(trained.params)
    run = state.trained_run()
    st.success(
        _("Showing the **trained** values of run {run} ({epochs} epochs on {dataset}).").format(
            run=run.run_id,
            epochs=len(trained.history.epochs),
            dataset=plain(dataset_title(trained.dataset, trained.dataset)),
        ),
        icon=":material/school:",
    )
else:
    initialising = models.prepare_init(spec)
    try:
        initialising.result(timeout=INIT_WAIT_S)
    except TimeoutError:
        st.info(
            _(
                "Computing `model.init` for this new shape ({count:,} parameters): flax compiles it once per shape, "
                "then every seed and every visit is instant."
            ).format(count=spec.parameter_count),
            icon=":material/hourglass_top:",
        )
        wait_then_rerun(initialising)
        st.stop()
    variables = models.init_variables(spec)
    st.info(
        _(
            "Showing the **starting** values: `model.init(jax.random.key({seed}), x)` with an all-zero 28x28 image "
            "`x`. Train the model to see how they change."
        ).format(seed=spec.seed),
        icon=":material/eco:",
    )

every_row = variable_rows(variables)
rows = [row for row in every_row if row.path.startswith("params/")]  # what the optimizer learns
layers = layer_rows(rows)
total = sum(row.size for row in rows)
norm_kinds = [kind.title for kind in (BatchNorm, LayerNorm) if any(isinstance(layer, kind) for layer in spec.layers)]
norms = (
    " " + _("Each {kinds} layer holds a **scale** and a **bias** per value.").format(kinds=_(" and ").join(norm_kinds))
    if norm_kinds
    else ""
)

st.markdown(
    _(
        "**{count:,} parameters** in {layers} layers. Each Dense layer holds a **kernel** "
        "(one weight per connection: inputs x units) and a **bias** (one number per unit)."
    ).format(count=total, layers=len(layers))
    + norms
)
found = collections(every_row)
described = _("; ").join(
    _("**`{name}`** ({numbers:,} numbers in {arrays:,} arrays): {meaning}").format(
        name=c.name,
        numbers=c.numbers,
        arrays=c.arrays,
        meaning=_(c.meaning) if c.meaning else "",
    )
    for c in found
)
st.markdown(
    ngettext(
        "`model.init` returns {count} collection: {collections}.",
        "`model.init` returns {count} collections: {collections}.",
        len(found),
    ).format(count=len(found), collections=described)
)
training_modes(spec)
batch_stats_table(variables, trained)

TABS = (
    N_("Tree"), N_("Table of every array"), N_("Where the parameters are"), N_("Look at one kernel"),
    N_("flax code"), N_("flax NNX"),
)  # fmt: skip
tab_labels = {_(name): name for name in TABS}  # the label shown: the tab's English name
# the widget forgets its tab when the visitor opens another page; the visitor's state does not (it keeps the
# English name, so that the tab stays open when the visitor changes the language)
if "variables.tab" not in st.session_state and state.variables.tab is not None:
    st.session_state["variables.tab"] = _(state.variables.tab)
# Only the open tab runs and is sent: heavy views (treescope, heatmaps) cost nothing until asked for.
tree_tab, table_tab, sizes_tab, kernel_tab, code_tab, nnx_tab_ = st.tabs(
    list(tab_labels), key="variables.tab", on_change="rerun"
)
state.variables.tab = tab_labels.get(st.session_state.get("variables.tab"))

if tree_tab.open:
    with tree_tab:
        left, right = st.columns([1, 1.3])
        with left:
            st.caption(
                _(
                    "The nested dictionary `model.init` returns: collection → layer → arrays. Click to fold. "
                    "`float32[784,512]` is a table of 784 x 512 decimal numbers (float32: 4 bytes each)."
                )
            )
            st.json(jax.tree_util.tree_map(leaf_words, tree_outline(variables)), expanded=3)
        with right:
            st.caption(
                _(
                    "The same tree in treescope, a viewer for pytrees (JAX's word for nested dictionaries and lists "
                    "of arrays), with a summary of the values."
                )
            )
            st.iframe(treescope_html(variables, 420), height=420)

if table_tab.open:
    with table_tab:
        st.dataframe(
            [
                {
                    _("path"): row.path,
                    _("shape"): " x ".join(str(d) for d in row.shape),
                    "dtype": row.dtype,
                    _("parameters"): row.size,
                    _("mean"): row.mean,
                    _("std"): row.std,
                    _("min"): row.min,
                    _("max"): row.max,
                    _("histogram"): list(row.histogram),
                }
                for row in every_row
            ],
            hide_index=True,
            key="variables.table",
            column_config={
                _("path"): st.column_config.TextColumn(
                    help=_("collection / layer / array, as in variables['params']['Dense_0']")
                ),
                _("parameters"): st.column_config.NumberColumn(
                    help=_("how many numbers this array holds (batch_stats are not learned by the optimizer)"),
                    format="localized",
                ),
                _("mean"): st.column_config.NumberColumn(help=_("average value"), format="%.4f"),
                _("std"): st.column_config.NumberColumn(
                    help=_("standard deviation: how spread out the values are"), format="%.4f"
                ),
                _("min"): st.column_config.NumberColumn(format="%.4f"),
                _("max"): st.column_config.NumberColumn(format="%.4f"),
                _("histogram"): st.column_config.BarChartColumn(help=_("how the values are spread, from min to max")),
            },
        )
        st.caption(
            _("Before training, kernels start random with std about 1/√inputs (LeCun normal) and biases start at 0.")
        )

if sizes_tab.open:
    with sizes_tab:
        st.plotly_chart(figures.treemap_figure(rows, height=height(420)), key="variables.treemap")
        explain(
            _("Each box is one array; its area is how many numbers it holds. Most parameters sit in the widest layers.")
        )
        previous = state.previous_spec
        if previous is not None and type(previous) is type(spec) and previous != spec:
            st.markdown(
                _("**Compared with the previous model** ({model}): {change}").format(
                    model=previous.describe(), change=message_text(state.last_change)
                )
            )
            st.dataframe(
                [  # the words of core (new layer, removed, same) in the visitor's language too
                    {_(name): _(value) for name, value in d.in_words().items()} for d in parameter_diff(previous, spec)
                ],
                hide_index=True,
                key="variables.diff",
                column_config={
                    _("before"): st.column_config.TextColumn(help=_("parameters of this layer in the previous model")),
                    _("change"): st.column_config.TextColumn(help=_("parameters added (+) or removed (-)")),
                },
            )
        st.dataframe(
            [
                {
                    _("layer"): layer.module,
                    _("arrays"): ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in layer.shapes.items()),
                    _("parameters"): layer.parameters,
                    _("share"): layer.parameters / total,
                }
                for layer in layers
            ],
            hide_index=True,
            key="variables.layers",
            column_config={
                _("parameters"): st.column_config.NumberColumn(format="localized"),
                _("share"): st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
            },
        )  # fmt: skip

if kernel_tab.open:
    with kernel_tab:
        kernels = [row.path for row in rows if row.name == "kernel"]
        chosen = st.selectbox(
            _("Kernel"), kernels, key="variables.kernel", help=_("A weight matrix: inputs down, units across")
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
            explain(_("Each square is one weight: red pulls the unit's output up, blue pulls it down."))
        with right:
            st.plotly_chart(
                figures.histogram_figure(kernel, _("values of {path}").format(path=chosen), height=height(300)),
                key="variables.histogram",
            )
            st.caption(
                _("mean {mean:.4f}, std {std:.4f}").format(mean=float(np.mean(kernel)), std=float(np.std(kernel)))
            )
        if kernel.shape[0] == spec.input_size:
            st.markdown(
                _("**What the first units look for**: each square is one unit's weights laid out as a 28x28 image.")
            )
            st.plotly_chart(figures.receptive_field_figure(kernel, height=height(420)), key="variables.fields")
            explain(
                _("Red pixels make the unit fire, blue ones hold it back. After training, shapes of strokes appear.")
            )

# the scripts to take home carry the trained run's settings and data, else the Train page's
script_settings = (run.config, trained.dataset) if trained is not None else (state.config, state.dataset_name)
if code_tab.open:
    with code_tab:
        st.caption(_("Runnable flax.linen code for this exact model (copy button at the top right of the box)."))
        st.code(flax_source(spec), language="python")
        script_downloads(spec, *script_settings, "variables", trained is not None)

if nnx_tab_.open:
    with nnx_tab_:
        version = ("run", run.cache_id) if trained is not None else ("init", spec)
        nnx_tab(spec, variables, version, trained is not None)
        script_downloads(spec, *script_settings, "variables.nnx", trained is not None)
