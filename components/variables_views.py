"""Parts of the Variables page: the two modes of a model's ``__call__`` and BatchNorm's batch statistics."""

from __future__ import annotations

import streamlit as st

from components.i18n import N_, _
from core import models
from core.spec import ModelSpec
from core.training import TrainResult
from core.variables import batch_stats_rows

BEFORE, AFTER = N_("before training"), N_("after training")


def training_modes(spec: ModelSpec) -> None:
    """What ``train=True`` and ``train=False`` change, opened for a model with BatchNorm."""
    with st.expander(_("Training mode and evaluation mode"), icon=":material/school:", expanded=spec.has_batchnorm):
        st.markdown(_(
            "The model's `__call__` takes a `train` flag, as in the flax documentation:\n\n"
            "- **Training** (`train=True`): Dropout zeroes a random share of the values at each step, so it needs a "
            "random key, `rngs={'dropout': key}` (here: the run's seed combined with the step number, so the same "
            "seed gives the same run). BatchNorm normalises with the mean and variance of the current batch and "
            "updates its running averages in `batch_stats`, which is why the step calls "
            "`model.apply(variables, x, train=True, mutable=['batch_stats'])` and keeps the new `batch_stats` it "
            "returns.\n"
            "- **Evaluation** (`train=False`): Dropout is off (nothing is dropped, so two evaluations give the very "
            "same answer) and BatchNorm uses the running averages in `batch_stats` instead of the batch's own "
            "statistics. "
            "Test scores, predictions and drawings all use this mode."
        ) + "\n\n" + (
            _("This model has neither Dropout nor BatchNorm, so both modes compute the same thing.")
            if not spec.has_dropout and not spec.has_batchnorm
            else _("Add or remove these layers on the Build page to see the collections change.")
        ))  # fmt: skip


def batch_stats_table(variables, trained: TrainResult | None) -> None:
    """BatchNorm's running means and variances as ``model.init`` made them and, once trained, after training."""
    stats = [(BEFORE, row) for row in batch_stats_rows(variables)]
    if stats and trained is not None:  # the same layers as flax's model.init made them, then as trained
        start = batch_stats_rows(models.init_variables(trained.spec))
        stats = [*((BEFORE, row) for row in start), *((AFTER, row) for _when, row in stats)]
    if stats:
        st.markdown(
            _("**BatchNorm's batch statistics** (`batch_stats`), before and after training: every mean starts at 0, "
              "every variance at 1, and training moves them towards the data's own.")
            if trained is not None
            else _("**BatchNorm's batch statistics** (`batch_stats`) before training: every mean starts at 0, every "
                   "variance at 1. Train the model to see them after training beside these.")
        )  # fmt: skip
        st.dataframe(
            [
                {_("when"): _(when), _("layer"): row.module, _("units"): row.units,
                 _("average running mean"): row.mean_of_means, _("average running variance"): row.mean_of_variances,
                 _("smallest variance"): row.min_variance, _("largest variance"): row.max_variance}
                for when, row in stats
            ],
            hide_index=True,
            key="variables.batch_stats",
            column_config={
                _("units"): st.column_config.NumberColumn(help=_("values this layer normalises"), format="localized"),
                _("average running mean"): st.column_config.NumberColumn(
                    help=_("the running means (one per unit) averaged: what BatchNorm subtracts when evaluating"),
                    format="%.4f",
                ),
                _("average running variance"): st.column_config.NumberColumn(
                    help=_("the running variances averaged: BatchNorm divides by their square root when evaluating"),
                    format="%.4f",
                ),
                _("smallest variance"): st.column_config.NumberColumn(format="%.4f"),
                _("largest variance"): st.column_config.NumberColumn(format="%.4f"),
            },
        )  # fmt: skip
