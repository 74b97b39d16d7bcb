"""The Train page's settings form: epochs, learning rate, the advanced settings and the overfitting lab,
checked into a TrainConfig when Start training is pressed (a bad value: a message, no run)."""

from __future__ import annotations

import streamlit as st

from components.i18n import N_, _, error_reason
from components.state import AppState
from components.training import start_training
from components.ui import advanced
from components.words import plain
from core.data import Dataset
from core.errors import CoreError
from core.spec import MAX_SEED, AutoEncoderSpec
from core.tasks import RECONSTRUCTION_LOSSES
from core.training import MAX_BATCH_SIZE, MAX_EPOCHS, OPTIMIZERS, TrainConfig, fit_batch_size
from core.training.overfitting import subset_size

FRACTIONS = (0.05, 0.1, 0.2, 0.5, 1.0)
L2_WORDS = N_(
    "Adds L2 × ½ × (the sum of every weight squared) to the loss, so large weights cost something and the "
    "model prefers simpler ones (0 = off; try 0.0001 to 0.01; biases are not penalised). Not the same as "
    "AdamW's weight decay: the L2 penalty is part of the loss, so Adam rescales its pull along with the rest "
    "of the gradient; AdamW shrinks every weight by the same share each step, outside Adam's rescaling."
)
NOISE_WORDS = N_(
    "Adds random noise to every pixel of a training image each time it is shown: its typical size, with "
    "pixels going from 0 (black) to 1 (white). 0 = off; try 0.1 to 0.3. The model cannot memorise exact "
    "pixels; test images stay clean. The noise is fixed by the seed: same seed, same curve."
)


def fraction_words(dataset: Dataset | None, fractions: list[float]) -> dict[float, str]:
    """Each training fraction in words, worded now (a choice's format function may run outside the visitor's
    session, in their language only while the page is drawn)."""
    if dataset is None:
        return {f: _("{share:.0%} of the training images").format(share=f) for f in fractions}
    return {f: subset_words(dataset.num_train, f) for f in fractions}


def overfitting_controls(config: TrainConfig, dataset: Dataset | None) -> tuple[float, str, str]:
    """The overfitting lab's settings, inside the settings form: (training fraction, L2, noise) as given."""
    st.markdown(_("**Overfitting lab**: make memorising the training images easier or harder"))
    cols = st.columns(3)
    options = sorted({*FRACTIONS, config.train_fraction})
    fraction = cols[0].selectbox(
        _("Train on"), options, index=options.index(config.train_fraction), key="train.fraction",
        format_func=fraction_words(dataset, options).__getitem__,
        help=_("Fewer training images make memorising easy: the model then does much better on them than on "
               "the test images. The images kept are a fixed choice that keeps each class's share, the same for "
               "every seed (a smaller share lies inside a larger one)."),
    )  # fmt: skip
    l2 = cols[1].text_input(_("L2 penalty"), value=f"{config.l2:g}", key="train.l2", help=_(L2_WORDS))
    noise = cols[2].text_input(_("Input noise"), value=f"{config.noise:g}", key="train.noise", help=_(NOISE_WORDS))
    return fraction, l2, noise


def advanced_settings(state: AppState, cols: list) -> tuple[str, int, int, bool, str]:
    """Optimizer, batch size, seed, augmentation and (autoencoder) loss: the config's own values
    unless the advanced settings are shown; inside the settings form."""
    config = state.config
    optimizer, batch_size, seed = config.optimizer, config.batch_size, config.seed
    augment, loss = config.augment, config.reconstruction_loss
    if not advanced():
        return optimizer, batch_size, seed, augment, loss
    optimizer = cols[0].selectbox(
        _("Optimizer"), list(OPTIMIZERS), index=list(OPTIMIZERS).index(config.optimizer), key="train.optimizer",
        help=_("How the nudges are computed.") + " " + " ".join(f"{k}: {_(v)}." for k, v in OPTIMIZERS.items()),
    )  # fmt: skip
    batch_size = cols[1].number_input(
        _("Batch size"), value=config.batch_size, step=1, key="train.batch_size",
        help=_("Images per nudge (1 to {most:,}). Bigger batches give steadier but fewer steps.").format(
            most=MAX_BATCH_SIZE
        ),
    )  # fmt: skip
    more = st.columns(4)
    seed = more[0].number_input(
        _("Seed"), value=config.seed, step=1, key="train.seed",
        help=_("Fixes the shuffling and augmentation (0 to {most:,}): same seed, same curve.").format(most=MAX_SEED),
    )  # fmt: skip
    augment = more[1].checkbox(
        _("Shift images by 1 pixel"), value=config.augment, key="train.augment",
        help=_("Each time an image is shown, move it by up to one pixel. The model then learns the shape, "
               "not the exact position, and does better on new images."),
    )  # fmt: skip
    if isinstance(state.spec, AutoEncoderSpec):
        loss = more[2].selectbox(
            _("Reconstruction loss"), list(RECONSTRUCTION_LOSSES),
            format_func={k: _(v) for k, v in RECONSTRUCTION_LOSSES.items()}.__getitem__,
            index=list(RECONSTRUCTION_LOSSES).index(config.reconstruction_loss), key="train.loss",
            help=_("How the difference between the image and its rebuilt version is measured."),
        )  # fmt: skip
    return optimizer, batch_size, seed, augment, loss


def small_data_note(config: TrainConfig, dataset: Dataset | None) -> None:
    """Says when the data is too small for the batch size, which then follows it by itself."""
    if dataset is None:
        return
    fitted = fit_batch_size(config, dataset.num_train)[0]
    if fitted.batch_size != config.batch_size:
        used = subset_size(dataset.num_train, config.train_fraction)
        note = _(
            "Batch size {size:,} instead of {asked:,}: there are only {used:,} training images, "
            "fewer than one batch, so each step shows the model {size:,} of them."
        ).format(size=fitted.batch_size, asked=config.batch_size, used=used)
        st.info(note, icon=":material/photo_library:")


def subset_words(num_train: int, fraction: float) -> str:
    """``"3,000 of 60,000 images (5%)"``: what the overfitting lab's fraction keeps."""
    used = subset_size(num_train, fraction)
    return _("{used:,} of {total:,} images ({share:.0%})").format(used=used, total=num_train, share=used / num_train)


def settings_form(state: AppState, dataset: Dataset | None) -> None:
    """The settings and the Start training button; a run starts only from the button."""
    config = state.config
    # Enter in a field must not start a run: only the button does
    # Start first, beside the two settings a presenter changes; the others folded away below it
    with st.form("train.settings", enter_to_submit=False):
        cols = st.columns([1, 1, 1.3], vertical_alignment="bottom")
        epochs = cols[0].number_input(
            _("Epochs"), value=config.epochs, step=1, key="train.epochs",
            help=_("How many times to go through all training images (1 to {most}).").format(most=MAX_EPOCHS),
        )  # fmt: skip
        learning_rate = cols[1].text_input(
            _("Learning rate"), value=f"{config.learning_rate:g}", key="train.learning_rate",
            help=_("How big each nudge is. 0.001 is a good start for Adam; too big and the loss blows up, "
                   "too small and learning crawls."),
        )  # fmt: skip
        busy = state.active_run is not None
        submitted = cols[2].form_submit_button(
            _("Start training"), icon=":material/play_arrow:", type="primary", disabled=dataset is None or busy,
            help=_("A run is already training: stop it first") if busy else _("Train a fresh copy of this model"),
        )  # fmt: skip
        small_data_note(config, dataset)
        with st.expander(_("More settings: optimizer, batch size, seed, overfitting lab")):
            optimizer, batch_size, seed, augment, loss = advanced_settings(state, st.columns(4))
            fraction, l2, noise = overfitting_controls(config, dataset)
    if not submitted:
        return
    if busy:
        st.warning(
            _("A run is already training. Stop it first (one run at a time per visitor)."),
            icon=":material/hourglass_top:",
        )
        return
    try:
        state.config = TrainConfig(
            optimizer=optimizer, learning_rate=learning_rate, batch_size=batch_size, epochs=epochs, seed=seed,
            reconstruction_loss=loss, augment=augment, momentum=config.momentum, weight_decay=config.weight_decay,
            l2=l2, noise=noise, train_fraction=fraction,
        )  # fmt: skip
        start_training(state, state.spec, fit_batch_size(state.config, dataset.num_train)[0], dataset)
    except CoreError as err:
        st.error(_("Not started: {reason}").format(reason=plain(error_reason(err), 300)), icon=":material/warning:")
        return
    st.rerun()
