"""The Inside page's "Switch units off": click units of a trained model to switch them off and see its
answer, its test score and its reconstructions change beside the unchanged model's; which units
matter most, and the pruning curve. The maths is ``core.ablation``'s; the switched-off units are
the visitor's (``AppState.switches``)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from components import figures, resources, switch_figures
from components.i18n import _, ngettext
from components.images import tile
from components.state import SwitchState, get_state
from components.ui import explain, height, image_scale
from components.unit_views import layer_label, layer_name
from components.words import plain
from core import ablation, inside
from core.data import Dataset
from core.spec import ModelSpec
from core.tasks import task_of

TOP_UNITS = 15  # bars of the "Which units matter" chart
RECONSTRUCTIONS = 6  # held-out images rebuilt with and without the switched-off units
#: plotly's toolbar (zoom, pan...) would cover the charts' titles on a phone, and nothing here needs it
NO_TOOLBAR = {"displayModeBar": False}


def switches_for(model_key: tuple | None) -> SwitchState:
    """This visitor's switched-off units for the model shown (none for an untrained model)."""
    return get_state().switches.for_model(model_key)


def current_masks(spec: ModelSpec, model_key: tuple | None) -> dict[str, np.ndarray]:
    """On/off masks of the units switched off in the model shown ({} when every unit is on)."""
    if model_key is None:
        return {}
    return ablation.masks_for(spec, switches_for(model_key).off)


def units_per_layer(spec: ModelSpec) -> dict[str, int]:
    """{layer path: its units on the last axis} of the layers whose units can be switched off (a conv
    layer's channels: its grid on the page has a square per channel and position)."""
    return {layer.path: layer.units for layer in ablation.switchable_layers(spec)}


def off_summary(spec: ModelSpec, switches: SwitchState, names: dict[str, str]) -> str:
    """Which units are off, in words: ``layer 1: units 3, 17; layer 2: unit 5`` (``channels 0, 1`` for a conv
    layer)."""
    parts = []
    for layer in ablation.switchable_layers(spec):
        units = sorted(switches.off.get(layer.path, ()))
        if units:
            listed = ", ".join(str(u) for u in units[:20])
            if len(units) > 20:
                listed = _("{units} and {more} more").format(units=listed, more=len(units) - 20)
            if layer.of_channels:
                words = ngettext("{layer}: channel {units}", "{layer}: channels {units}", len(units))
            else:
                words = ngettext("{layer}: unit {units}", "{layer}: units {units}", len(units))
            parts.append(words.format(layer=names[layer.path], units=listed))
    return _("; ").join(parts)


def _on_grid_click(key: str, path: str) -> None:
    event = st.session_state.get(key)
    unit = switch_figures.clicked_unit(event.selection.points if event else [])
    if unit is not None:
        get_state().switches.toggle(path, unit)


def _on_toggle(path: str) -> None:
    get_state().switches.toggle(path, int(st.session_state["inside.switch.unit"]))


def _on_switch_off(path: str, unit: int) -> None:
    switches = get_state().switches
    if unit not in switches.off.get(path, ()):
        switches.toggle(path, unit)


def switch_section(
    spec: ModelSpec, variables, dataset: Dataset, image: np.ndarray, model_key: tuple | None, rows: list
) -> None:
    """Section 5 of the Inside page. ``rows``: ``inside.layer_outputs`` for the input, units off (as the
    page's layer grids show them)."""
    st.markdown(_("### 5. Switch units off"))
    layers = ablation.switchable_layers(spec)
    if model_key is None:
        st.info(_("Train the model first: switching units off shows what a *trained* network relies on."))
        return
    if not layers:
        st.info(_("This model has no hidden layer whose units could be switched off."))
        return
    switches = switches_for(model_key)
    channels = {layer.path: layer.units for layer in layers if layer.of_channels}
    names = {row.path: layer_name(row, number, channels.get(row.path)) for number, row in enumerate(rows, start=1)}
    labels = {row.path: layer_label(row, number) for number, row in enumerate(rows, start=1)}
    explain(
        _(
            "Click a unit to switch it off: it then passes 0 to the next layer, whatever it computed; click it "
            "again to switch it back on. Sections 1 to 3 above show the network with those units off (crossed out)."
        )
    )
    paths = [layer.path for layer in layers]
    if st.session_state.get("inside.switch.layer") not in paths:  # an autoencoder's code first: its units matter most
        codes = [layer.path for layer in layers if layer.role == "code"]
        st.session_state["inside.switch.layer"] = (codes or paths)[0]
    path = st.selectbox(_("Layer"), paths, key="inside.switch.layer", format_func=names.get)
    layer = layers[paths.index(path)]
    masks = ablation.masks_for(spec, switches.off)
    row = next(r for r in rows if r.path == path)
    grid_key = f"inside.switch.grid.{switches.version}"
    # a conv layer: one square per channel, lit by its mean over the image's positions
    values = row.values[0].reshape(-1, layer.units).mean(axis=0)
    if not layer.of_channels:
        grid_title = _("{layer}: click a unit").format(layer=names[path])
    else:
        grid_title = _("{layer}: click a channel (each square: its mean over the image)").format(layer=names[path])
    st.plotly_chart(
        switch_figures.switch_grid_figure(values, switches.off.get(path, ()), grid_title),
        key=grid_key, on_select=lambda: _on_grid_click(grid_key, path), selection_mode="points", config=NO_TOOLBAR,
    )  # fmt: skip
    _unit_controls(layer, switches)
    summary = off_summary(spec, switches, labels)
    st.caption(
        _("Switched off: {units}.").format(units=summary)
        if summary
        else _("Every unit is on: this is the trained model unchanged.")
    )
    held_out = resources.held_out(dataset.name, dataset)
    _side_by_side(spec, variables, dataset, image, model_key, masks, held_out)
    _which_units_matter(spec, variables, dataset, model_key, path, labels[path], held_out, switches)
    _pruning(spec, variables, dataset, model_key, path, labels[path], held_out, switches)


def _unit_controls(layer: ablation.UnitLayer, switches: SwitchState) -> None:
    """A unit (a conv layer's channel) by its number, for a precise choice or a small screen, and "All on"."""
    path, units = layer.path, layer.units
    if st.session_state.get("inside.switch.unit", 0) >= units:
        st.session_state["inside.switch.unit"] = 0
    controls = st.columns([2, 2, 2], vertical_alignment="bottom")
    if layer.of_channels:
        words = (_("Channel"), _("Channels of this layer are numbered 0 to {last:,}, in reading order of the grid."))
    else:
        words = (_("Unit"), _("Units of this layer are numbered 0 to {last:,}, in reading order of the grid."))
    unit = int(
        controls[0].number_input(
            words[0], min_value=0, max_value=units - 1, step=1, key="inside.switch.unit",
            help=words[1].format(last=units - 1),
        )
    )  # fmt: skip
    is_off = unit in switches.off.get(path, ())
    if layer.of_channels:
        toggle = _("Switch channel {unit} on") if is_off else _("Switch channel {unit} off")
    else:
        toggle = _("Switch unit {unit} on") if is_off else _("Switch unit {unit} off")
    controls[1].button(
        toggle.format(unit=unit), key="inside.switch.toggle", on_click=_on_toggle,
        args=(path,), icon=":material/power_settings_new:",
    )  # fmt: skip
    controls[2].button(
        _("All on"), key="inside.switch.all_on", on_click=switches.all_on, disabled=not switches.off,
        icon=":material/restart_alt:", help=_("Switch every unit back on: the trained model exactly as it was."),
    )  # fmt: skip


def _side_by_side(spec, variables, dataset, image, model_key, masks, held_out) -> None:
    """The unchanged model and the model with units off: their scores over the held-out images in one row,
    then their answers for the input in another (so that a phone, which stacks columns, shows the two
    scores together)."""
    metric = task_of(spec).score
    before = resources.unchanged_score(model_key, dataset.name, spec, variables, held_out)
    after = ablation.score(spec, variables, held_out, masks) if masks else before
    count = sum(int((m == 0).sum()) for m in masks.values())
    off_words = ngettext("with {count} unit off", "with {count} units off", count).format(count=count)
    shown = ((_("unchanged"), {}, before), (off_words, masks, after))
    for column, (label, chosen, value) in zip(st.columns(2), shown, strict=True):
        change = _change_words(metric, value - before) if chosen else None
        column.metric(
            _("{score}, {model}").format(score=_(metric.label).capitalize(), model=label), metric.format(value),
            delta=change,
            delta_color="normal" if metric.higher_is_better else "inverse",
        )  # fmt: skip
    explain(_score_words(metric, len(held_out.labels)))
    if masks and float(ablation.worse_by(spec, before, np.asarray([after]))[0]) == 0:
        st.caption(_("No change at all on these images: the network does not need what is switched off."))
    inputs = inside.as_inputs(image)
    for column, (label, chosen, _score), key in zip(st.columns(2), shown, ("unchanged", "off"), strict=True):
        with column:
            _answer(spec, variables, inputs, chosen, dataset, label, key)
    if not task_of(spec).score.higher_is_better:
        _reconstructions(spec, variables, held_out, masks)


def _change_words(metric, difference: float) -> str:
    if metric.higher_is_better:
        return _("{change:+.1f} points").format(change=difference * 100)
    return f"{difference:+.4f}"


def _score_words(metric, images: int) -> str:
    if metric.higher_is_better:
        return _(
            "Test accuracy: the share of {images:,} test images (never seen in training) whose class the network "
            "gets right, for the unchanged network and with the units switched off. The small number under it: "
            "how many percentage points that changed (red when it fell)."
        ).format(images=images)
    return _(
        "Reconstruction error: how far the rebuilt images are from the originals, the mean squared difference per "
        "pixel over {images:,} test images (0 would be perfect; lower is better). The small number under it: how "
        "much it changed (red when the rebuilt images got worse)."
    ).format(images=images)


def _answer(spec, variables, inputs, masks, dataset: Dataset, label: str, key: str) -> None:
    """The model's answer for the chosen input (class chances, or what the autoencoder rebuilds)."""
    output = ablation.switched_outputs(spec, variables, inputs, masks)
    if task_of(spec).score.higher_is_better:
        chances = inside.probabilities(output)[0]
        answer = plain(dataset.class_names[int(np.argmax(chances))])
        st.markdown(_("Answer for the input, {model}: **{answer}**").format(model=label, answer=answer))
        st.plotly_chart(
            figures.probability_figure(chances, dataset.class_names, height=height(200)),
            key=f"inside.switch.answer.{key}",
        )
    else:
        st.markdown(
            _("The input rebuilt, {model}:").format(model=label)
        )  # not a caption: an image is drawn as wide as its caption
        st.image(tile(output, cols=1, scale=image_scale(4)), output_format="PNG")


def _reconstructions(spec, variables, held_out, masks) -> None:
    originals = held_out.inputs[:RECONSTRUCTIONS]
    rebuilt = [ablation.switched_outputs(spec, variables, originals, chosen) for chosen in ({}, masks)]
    st.image(
        tile(np.concatenate([originals, *rebuilt]), cols=RECONSTRUCTIONS, scale=image_scale(2)),
        output_format="PNG",
        caption=_(
            "Test images (top row), rebuilt by the unchanged autoencoder (middle) and with the units off (bottom)."
        ),
    )


def _which_units_matter(spec, variables, dataset, model_key, path, name, held_out, switches: SwitchState) -> None:
    """Every unit of the layer switched off alone, ranked by how much worse the test score gets."""
    st.markdown(_("#### Which units matter"))
    explain(
        _(
            "Switch every unit of {layer} off, one at a time, and score the network each time: the units "
            "whose loss hurts most are the ones it relies on. All of them are computed together in one go."
        ).format(layer=name)
    )
    if st.button(_("Rank every unit of this layer"), key="inside.switch.rank", icon=":material/leaderboard:"):
        switches.shown.add(("rank", path))
    if ("rank", path) not in switches.shown:
        return
    with st.spinner(_("Switching each unit off in turn...")):
        ranking = resources.unit_ranking(model_key, dataset.name, path, spec, variables, held_out)
    metric = task_of(spec).score
    st.plotly_chart(
        switch_figures.importance_figure(ranking, metric, TOP_UNITS, height=height(60 + 22 * TOP_UNITS)),
        key="inside.switch.ranking",
        config=NO_TOOLBAR,
    )
    harmless = int(np.sum(ranking.drops <= 0))
    top = int(ranking.ranked()[0])
    drop = float(ranking.drops[top])
    lost = (
        _("{change:.1f} points lower").format(change=drop * 100)
        if metric.higher_is_better
        else _("{change:.2%} larger").format(change=drop / max(ranking.baseline, 1e-12))
    )
    explain(
        _(
            "Each bar: how much worse the {score} gets ({lost} for unit {unit}) when only that unit is off, on "
            "{images:,} test images. {harmless:,} of the {units:,} units change nothing or even help a little when "
            "switched off alone: the network spreads what it knows over many units."
        ).format(
            score=_(metric.label),
            lost=lost,
            unit=top,
            images=len(held_out.labels),
            harmless=harmless,
            units=ranking.drops.size,
        )
    )
    st.button(
        _("Switch off unit {unit}, the one that matters most").format(unit=top), key="inside.switch.top",
        on_click=_on_switch_off, args=(path, top), icon=":material/power_settings_new:",
    )  # fmt: skip


def _pruning(spec, variables, dataset, model_key, path, name, held_out, switches: SwitchState) -> None:
    """The pruning curve: keeping the units with the largest outgoing weights against random ones."""
    st.markdown(_("#### Pruning: keep only some units"))
    explain(
        _(
            "Keep k units of {layer} and switch all the others off, for k from all of them down to 1: "
            "either the strongest k, the units with the largest outgoing weights (they push the next layer hardest), "
            "or k units chosen at random (the mean of 4 draws). The line shows the test score left for each k."
        ).format(layer=name)
    )
    if st.button(_("Draw the pruning curve"), key="inside.switch.prune", icon=":material/content_cut:"):
        switches.shown.add(("prune", path))
    if ("prune", path) not in switches.shown:
        return
    with st.spinner(_("Scoring the network with fewer and fewer units...")):
        curve = resources.pruning_curve(model_key, dataset.name, path, spec, variables, held_out)
    metric = task_of(spec).score
    st.plotly_chart(
        switch_figures.pruning_figure(curve, metric, height=height(340)), key="inside.switch.pruning", config=NO_TOOLBAR
    )
    st.markdown(ablation.pruning_summary(spec, curve))
