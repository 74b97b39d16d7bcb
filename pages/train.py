"""Train: pick data and settings, start and stop a run, watch its curves live, compare runs."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from components import figures, resources, uploads
from components.frame import require_frame
from components.live_views import watch_learning
from components.run_views import (
    curve,
    curves_version,
    duration,
    epoch_metrics,
    final_score,
    generalisation_words,
    memory_words,
    over_budget_words,
    progress_text,
)
from components.server_paths import folder_words
from components.sidebar import POLL_SECONDS
from components.state import AppState, Run, get_state
from components.training import continue_training, restore_saved, save_status, start_training
from components.ui import advanced, explain, height
from components.words import option_text, plain, saved_run_status, status_words
from core.data import Dataset, archive
from core.errors import ConfigError, CoreError
from core.jax_setup import compilation_cache_dir
from core.runs import checkpoint, store
from core.spec import MAX_SEED, AutoEncoderSpec, MLPSpec
from core.tasks import RECONSTRUCTION_LOSSES, task_of
from core.training import MAX_BATCH_SIZE, MAX_EPOCHS, OPTIMIZERS, Status, TrainConfig
from core.training.overfitting import describe_subset

require_frame()

NO_OPTIMIZER_STATE = (
    "This model cannot be continued: it keeps no optimizer state (a width sweep keeps only each model's "
    "parameters). Train it anew with Start training above."
)
DATASETS = {
    "sample": "Bundled sample: 5,000 real MNIST digits (works offline)",
    "mnist": "MNIST: 70,000 digits, downloaded once through tensorflow-datasets",
    "fashion_mnist": "Fashion-MNIST: 70,000 clothing photos, via tensorflow-datasets",
    "kmnist": "Kuzushiji-MNIST: 70,000 cursive hiragana (10 characters), via tensorflow-datasets",
    "emnist_digits": "EMNIST digits: 280,000 handwritten digits, via tensorflow-datasets (a 562 MB download)",
    "emnist_letters": "EMNIST letters: 145,600 handwritten letters (26 classes, capital and small together), "
    "via tensorflow-datasets (the same 562 MB download)",
    "idx": "A folder of IDX files on this computer",
    "folder": "Your own images (a .zip of class folders)",
}
FRACTIONS = (0.05, 0.1, 0.2, 0.5, 1.0)
L2_WORDS = (
    "Adds L2 × ½ × (the sum of every weight squared) to the loss, so large weights cost something and the "
    "model prefers simpler ones (0 = off; try 0.0001 to 0.01; biases are not penalised). Not the same as "
    "AdamW's weight decay: the L2 penalty is part of the loss, so Adam rescales its pull along with the rest "
    "of the gradient; AdamW shrinks every weight by the same share each step, outside Adam's rescaling."
)
NOISE_WORDS = (
    "Adds random noise to every pixel of a training image each time it is shown: its typical size, with "
    "pixels going from 0 (black) to 1 (white). 0 = off; try 0.1 to 0.3. The model cannot memorise exact "
    "pixels; test images stay clean. The noise is fixed by the seed: same seed, same curve."
)

state = get_state()
spec = state.spec

st.title(":material/show_chart: Train")
st.caption(
    f"Teach **{spec.describe()}** from examples: show it a batch of images, measure how wrong it is "
    "(the loss), nudge every parameter to be a little less wrong, repeat."
)


# ----- data ---------------------------------------------------------------------------------
def choose_dataset(state: AppState) -> Dataset | None:
    current = state.dataset_name.split(":", 1)[0] if ":" in state.dataset_name else state.dataset_name
    current = current if current in DATASETS else "sample"
    choice = st.radio(
        "Data", list(DATASETS), format_func=DATASETS.get, index=list(DATASETS).index(current), key="train.dataset",
        horizontal=True, help="Which images to learn from. Each has a separate test set the model never trains on.",
    )  # fmt: skip
    name = choice
    if choice == "idx":
        folder = st.text_input(
            "Folder", value=state.idx_folder or "/usr/share/datasets/fashion-mnist", key="train.idx_folder",
            help="A folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
            "t10k-labels-idx1-ubyte (each may end in .gz).",
        )  # fmt: skip
        state.idx_folder = folder
        name = f"idx:{folder}"
    elif choice == "folder":
        folder = upload_image_zip(state)
        if folder is None:
            return None
        name = f"folder:{folder}"
    try:
        with st.spinner("Loading the images…"):
            dataset = resources.dataset(name)
    except CoreError as err:
        said = plain(err, 300)  # quotes a folder or a zip's names: the visitor's text
        st.error(f"Could not load this data: {said}", icon=":material/cloud_off:")
        return None
    state.dataset_name = name
    with st.expander(plain(dataset.description, 300), expanded=choice == "folder"):
        st.image(resources.first_images_png(name), caption="First training images", output_format="PNG")
        labels = ", ".join(dataset.class_names[int(i)] for i in dataset.train_labels[:16])
        st.caption(f"Labels: {plain(labels, 300)} …")
    return dataset


def upload_image_zip(state: AppState) -> str | None:
    """The folder of this visitor's uploaded image zip, unpacked once per upload; None until there is one."""
    upload = uploads.uploader(
        state, "train.image_zip", "A .zip of your images", type=["zip"],
        help="Inside the zip: train/<class name>/<images> and, optionally, test/<class name>/<images> "
        "(PNG, JPEG, BMP, GIF or WebP; at most 10 classes). Without test/, a fifth of each class is held out. "
        "Images become 28x28 grey, light on dark like MNIST.",
    )  # fmt: skip
    if upload is not None and upload.file_id != state.uploaded_zip_id:
        state.uploaded_zip_id = upload.file_id
        try:
            with st.spinner("Unpacking the images…"):
                state.image_folder = str(archive.unpack_upload(upload.getvalue()))
        except CoreError as err:
            state.image_folder = ""
            reason = f"Could not use {plain(upload.name)}: {plain(err, 300)}"
            uploads.refuse(state, "train.image_zip", upload, reason, icon=":material/folder_zip:")
    if not state.image_folder:
        st.info("Upload a .zip of class folders to train on your own images.", icon=":material/folder_zip:")
        return None
    return state.image_folder


# ----- settings and start ---------------------------------------------------------------------
def overfitting_controls(config: TrainConfig, dataset: Dataset | None) -> tuple[float, str, str]:
    """The overfitting lab's settings, inside the settings form: (training fraction, L2, noise) as given."""
    st.markdown("**Overfitting lab**: make memorising the training images easier or harder")
    cols = st.columns(3)
    options = sorted({*FRACTIONS, config.train_fraction})
    fraction = cols[0].selectbox(
        "Train on", options, index=options.index(config.train_fraction), key="train.fraction",
        format_func=lambda f: describe_subset(dataset.num_train, f).removeprefix("training on ") if dataset
        else f"{f:.0%} of the training images",
        help="Fewer training images make memorising easy: the model then does much better on them than on "
        "the test images. The images kept are a fixed choice that keeps each class's share, the same for "
        "every seed (a smaller share lies inside a larger one).",
    )  # fmt: skip
    l2 = cols[1].text_input("L2 penalty", value=f"{config.l2:g}", key="train.l2", help=L2_WORDS)
    noise = cols[2].text_input("Input noise", value=f"{config.noise:g}", key="train.noise", help=NOISE_WORDS)
    return fraction, l2, noise


def settings_form(state: AppState, dataset: Dataset | None) -> None:
    config = state.config
    optimizer, batch_size, seed = config.optimizer, config.batch_size, config.seed
    augment, loss = config.augment, config.reconstruction_loss
    # Enter in a field must not start a run: only the button does
    with st.form("train.settings", enter_to_submit=False):
        cols = st.columns(4)
        epochs = cols[0].number_input(
            "Epochs", value=config.epochs, step=1, key="train.epochs",
            help=f"How many times to go through all training images (1 to {MAX_EPOCHS}).",
        )  # fmt: skip
        learning_rate = cols[1].text_input(
            "Learning rate", value=f"{config.learning_rate:g}", key="train.learning_rate",
            help="How big each nudge is. 0.001 is a good start for Adam; too big and the loss blows up, "
            "too small and learning crawls.",
        )  # fmt: skip
        if advanced():
            optimizer = cols[2].selectbox(
                "Optimizer", list(OPTIMIZERS), index=list(OPTIMIZERS).index(config.optimizer), key="train.optimizer",
                help="How the nudges are computed. " + " ".join(f"{k}: {v}." for k, v in OPTIMIZERS.items()),
            )  # fmt: skip
            batch_size = cols[3].number_input(
                "Batch size", value=config.batch_size, step=1, key="train.batch_size",
                help=f"Images per nudge (1 to {MAX_BATCH_SIZE:,}). Bigger batches give steadier but fewer steps.",
            )  # fmt: skip
            more = st.columns(4)
            seed = more[0].number_input(
                "Seed", value=config.seed, step=1, key="train.seed",
                help=f"Fixes the shuffling and augmentation (0 to {MAX_SEED:,}): same seed, same curve.",
            )  # fmt: skip
            augment = more[1].checkbox(
                "Shift images by 1 pixel", value=config.augment, key="train.augment",
                help="Each time an image is shown, move it by up to one pixel. The model then learns the shape, "
                "not the exact position, and does better on new images.",
            )  # fmt: skip
            if isinstance(spec, AutoEncoderSpec):
                loss = more[2].selectbox(
                    "Reconstruction loss", list(RECONSTRUCTION_LOSSES), format_func=RECONSTRUCTION_LOSSES.get,
                    index=list(RECONSTRUCTION_LOSSES).index(config.reconstruction_loss), key="train.loss",
                    help="How the difference between the image and its rebuilt version is measured.",
                )  # fmt: skip
        fraction, l2, noise = overfitting_controls(config, dataset)
        busy = state.active_run is not None
        submitted = st.form_submit_button(
            "Start training", icon=":material/play_arrow:", type="primary", disabled=dataset is None or busy,
            help="A run is already training: stop it first" if busy else "Train a fresh copy of this model",
        )  # fmt: skip
    if not submitted:
        return
    if busy:
        st.warning(
            "A run is already training. Stop it first (one run at a time per visitor).", icon=":material/hourglass_top:"
        )
        return
    try:
        state.config = TrainConfig(
            optimizer=optimizer, learning_rate=learning_rate, batch_size=batch_size, epochs=epochs, seed=seed,
            reconstruction_loss=loss, augment=augment, momentum=config.momentum, weight_decay=config.weight_decay,
            l2=l2, noise=noise, train_fraction=fraction,
        )  # fmt: skip
        start_training(state, spec, state.config, dataset)
    except CoreError as err:
        st.error(f"Not started: {plain(getattr(err, 'reason', err), 300)}", icon=":material/warning:")
        return
    st.rerun()


# ----- live view ------------------------------------------------------------------------------
def presenter_controls(run: Run, paused: bool, rate: float) -> None:
    """Pause, resume, step and a new learning rate for a running training, for a room to follow."""
    controls = run.job.controls  # type: ignore[union-attr]
    cols = st.columns([1.2, 1, 1, 1.3, 1], vertical_alignment="bottom")
    if paused:
        cols[0].button("Resume", icon=":material/play_arrow:", key="train.resume", on_click=controls.resume,
                       help="Go on training at full speed")  # fmt: skip
    else:
        cols[0].button("Pause", icon=":material/pause:", key="train.pause", on_click=controls.pause,
                       help="Hold the training after its current chunk of steps; Resume or Step goes on")  # fmt: skip
    steps = cols[1].number_input(
        "Steps", value=10, step=1, key="train.step_count",
        help="How many training steps (batches) the Step button runs before pausing again",
    )  # fmt: skip
    if cols[2].button("Step", icon=":material/skip_next:", key="train.step",
                      help="Run this many steps, then pause: watch the model change one nudge at a time"):  # fmt: skip
        try:
            controls.step(int(steps))
        except CoreError as err:
            st.error(f"Not stepped: {plain(getattr(err, 'reason', err), 300)}", icon=":material/warning:")
    new_rate = cols[3].text_input(
        "New learning rate", value=f"{rate:g}", key=f"train.new_rate.{run.run_id}",
        help="Changes how big each nudge is from the next chunk of steps on, without restarting. "
        "The loss curve marks the step where it changed.",
    )  # fmt: skip
    if cols[4].button("Apply", key="train.apply_rate", help="Train with the new learning rate from now on"):
        try:
            controls.set_learning_rate(replace(run.config, learning_rate=new_rate).learning_rate)
        except CoreError as err:
            st.error(f"Learning rate not changed: {plain(getattr(err, 'reason', err), 300)}", icon=":material/warning:")
    if paused:
        st.info("Paused: press **Resume**, or **Step** to run a few steps at a time.", icon=":material/pause:")


def comparison_runs(state: AppState, shown: Run) -> list[Run]:
    same = [r for r in state.runs if r is not shown and r.spec.kind == shown.spec.kind and r.finished]
    if not same:
        return []
    chosen = st.multiselect(
        "Compare with", [r.run_id for r in same], default=[r.run_id for r in same[-2:]],
        format_func=lambda i: option_text(f"run {i}: {state.run(i).label}", 160), key="train.compare",
        help="Overlay the curves of earlier runs of the same kind of model",
    )  # fmt: skip
    return [state.run(i) for i in chosen]


def live_views(run: Run, snap) -> None:
    """The model as it learns (answers or reconstructions, latent map, first-layer weights), redrawn
    with the curve from the job's latest parameters; a switch turns them off."""
    if snap is None:  # a loaded run: no training to watch
        return
    variables = run.latest_variables()
    if variables is None:
        return
    state = get_state()
    state.watch_training = st.toggle(
        "Watch the model learn", value=state.watch_training, key="train.watch",
        help="Shows what the model does with a few test images while it trains, redrawn every second. "
        "Costs training a few percent of its speed.",
    )  # fmt: skip
    if not state.watch_training:
        return
    try:
        dataset = resources.dataset(run.dataset)
    except CoreError:
        return  # its data is gone (a folder removed): the curve alone
    watch_learning((run.cache_id, snap.step), run.spec, variables, dataset, snap.step)


def live_panel(active: bool, dataset: Dataset | None) -> None:
    @st.fragment(run_every=POLL_SECONDS if active else None)
    def panel() -> None:
        state = get_state()
        run = state.active_run or state.selected_run or (state.runs[-1] if state.runs else None)
        if run is None:
            st.info(
                "No run yet: choose the settings above and press **Start training**.", icon=":material/arrow_upward:"
            )
            return
        snap = run.snapshot()
        header = st.columns([3, 1], vertical_alignment="center")
        header[0].markdown(f"#### Run {run.run_id}: {plain(run.label, 160)}")
        if run.active:
            header[1].button("Stop", icon=":material/stop:", key="train.stop", on_click=run.job.stop, type="secondary",
                             help="End training now and keep the model as it is")  # fmt: skip
        if snap is not None and run.active:
            presenter_controls(run, snap.paused, snap.learning_rate)
        if snap is not None:
            st.progress(snap.progress, text=progress_text(snap))
            metrics = st.columns(4)
            metrics[0].metric("Steps done", f"{snap.step:,}", help="One step = one batch of images = one nudge")
            steps_per_s = snap.samples_per_s / run.config.batch_size
            metrics[1].metric(
                "Images per second", f"{snap.samples_per_s:,.0f}",
                help=f"Training speed: {steps_per_s:,.0f} steps per second of {run.config.batch_size} images each",
            )  # fmt: skip
            left = "—" if not snap.active else "working it out" if snap.eta_s is None else duration(snap.eta_s)
            metrics[2].metric(
                "Time left", left,
                help="Counts down with the clock and follows the measured speed, which includes the other "
                "trainings sharing this server (they take turns, one short chunk of steps each)",
            )  # fmt: skip
            compiled = "compiling…" if snap.status == Status.COMPILING else (
                duration(snap.compile_s) if snap.compile_s > 0 else "none needed"
            )  # fmt: skip
            metrics[3].metric(
                "Compile time", compiled,
                help="Before the first step JAX turns the training step into machine code for this exact model "
                "(first time only; 'none needed': an earlier run's machine code was reused). It is reused by "
                "later runs of the same model, even after a restart "
                f"(kept in {compilation_cache_dir() or 'memory only'}).",
            )  # fmt: skip
            record = run.record
            if record is not None and record.extra.get("devices", 1) > 1:
                st.caption(f"Each batch was split over {record.extra['devices']} devices (data parallel).")
            if snap.message and snap.status in (Status.DIVERGED, Status.FAILED, Status.STOPPED, Status.QUEUED):
                (st.error if snap.status in (Status.DIVERGED, Status.FAILED) else st.info)(plain(snap.message, 300))
        others = comparison_runs(state, run) if not run.active else []
        shown = [run, *others]
        curves = [curve(r) for r in shown]
        loss_name = task_of(run.spec).loss_label(run.config.reconstruction_loss)
        # figures are made again only when a run's curves have grown, not on every rerun
        tall = height(380)
        loss_version = ("loss", curves_version(shown, curves, with_steps=True), loss_name, tall)
        loss_chart = resources.drawn(loss_version, lambda: figures.loss_figure(curves, loss_name, height=tall))
        st.plotly_chart(loss_chart, key="train.loss_chart")
        loss_words = (
            " For a classifier the loss is the cross-entropy: how surprised the model is by the right answer "
            "(0 = sure and right; about 2.3 = a blind guess among 10 classes)."
            if isinstance(run.spec, MLPSpec)
            else ""
        )
        explain(
            "Solid: loss of each training batch (lower is better). Dashed: loss on the test images, "
            "measured after every epoch. If the dashed line rises while the solid one falls, the model "
            "is memorising (overfitting)." + loss_words
        )
        if isinstance(run.spec, MLPSpec):
            tall = height(300)
            accuracy_version = ("accuracy", curves_version(shown, curves, with_steps=False), tall)
            accuracy_chart = resources.drawn(accuracy_version, lambda: figures.accuracy_figure(curves, height=tall))
            st.plotly_chart(accuracy_chart, key="train.accuracy_chart")
            explain("The share of test images the model gets right, measured after every epoch.")
        generalisation_view(run, loss_name, dataset)
        live_views(run, snap)
        if active and not run.active:
            st.rerun(scope="app")

    panel()


def generalisation_view(run: Run, loss_name: str, dataset: Dataset | None) -> None:
    """Train against test per epoch, the gap shaded (runs saved before it was measured have no train curve)."""
    epochs = epoch_metrics(run)
    if not any(e.train_eval_loss is not None for e in epochs):
        return
    st.markdown("##### Training images against test images")
    tall = height(340)
    version = ("generalisation", run.cache_id, len(epochs), loss_name, tall)
    gap_chart = resources.drawn(version, lambda: figures.generalisation_figure(epochs, loss_name, height=tall))
    st.plotly_chart(gap_chart, key="train.gap_chart")
    explain(generalisation_words(run, dataset))


# ----- runs list, save and load -------------------------------------------------------------
def runs_table(state: AppState) -> None:
    st.dataframe(
        [
            {
                "run": r.run_id,
                "model": r.spec.describe(),
                "data": option_text(r.dataset, 200),
                "settings": f"{r.config.optimizer}, lr {r.config.learning_rate:g}, batch {r.config.batch_size}, "
                f"{r.config.epochs} epochs",
                "status": status_words(r.status),
                "result": final_score(r),
                "time": duration(r.record.train_s) if r.finished else "",
                "saved": option_text(save_status(r), 300),
            }
            for r in reversed(state.runs)
        ],
        hide_index=True,
        key="train.runs",
    )


def chosen_run_actions(state: AppState) -> None:
    """Use, continue or download one finished run."""
    finished = [r for r in state.runs if r.finished]
    if not finished:
        return
    ids = [r.run_id for r in finished]
    default = ids.index(state.selected_run_id) if state.selected_run_id in ids else len(ids) - 1
    cols = st.columns([3, 1.3, 1.3, 1.6], vertical_alignment="bottom")
    chosen = cols[0].selectbox(
        "Model used on the other pages", ids, index=default, key="train.selected",
        format_func=lambda i: option_text(f"run {i}: {state.run(i).label}", 160),
        help="The Variables and Results pages show this run's trained model",
    )  # fmt: skip
    run = state.run(chosen)
    in_use = chosen == state.selected_run_id and run.spec == state.spec
    if cols[1].button("Use this model", key="train.use_run", disabled=in_use):
        state.selected_run_id = chosen
        state.set_spec(run.spec)
        st.rerun()
    more = cols[2].number_input(
        "More epochs", value=5, step=1, key="train.more_epochs",
        help="Continue this run: same model, same optimizer state, the curve goes on where it stopped",
    )  # fmt: skip
    busy = state.active_run is not None
    why_not = "" if run.can_continue else NO_OPTIMIZER_STATE
    if cols[3].button(
        "Continue training", icon=":material/resume:", key="train.continue", disabled=busy or bool(why_not),
        help=why_not or None,
    ):  # fmt: skip
        try:
            if not 1 <= int(more) <= MAX_EPOCHS:
                raise ConfigError("epochs", f"more epochs must be between 1 and {MAX_EPOCHS}, got {int(more)}")
            continue_training(state, run, int(more), resources.dataset(run.dataset))
        except CoreError as err:
            st.error(f"Not continued: {plain(getattr(err, 'reason', err), 300)}", icon=":material/warning:")
        else:
            st.rerun()
    st.download_button(
        "Download checkpoint", icon=":material/download:",
        data=lambda: checkpoint.to_bytes(run.full_result()),
        file_name=f"run{run.run_id}.msgpack", mime="application/octet-stream", key="train.download",
        help="Parameters, optimizer state, model spec and curves in one .msgpack file",
    )  # fmt: skip


def load_checkpoint_upload(state: AppState) -> None:
    upload = uploads.uploader(
        state, "train.upload", "Load a checkpoint (.msgpack saved from this tool)", type=["msgpack"],
        help="Restores the model, its settings and its curves as a new run",
    )  # fmt: skip
    if upload is None or state.uploaded_file_id == upload.file_id:
        return
    state.uploaded_file_id = upload.file_id
    try:
        result = checkpoint.from_bytes(upload.getvalue(), upload.name)
    except CoreError as err:
        reason = f"Could not load {plain(upload.name)}: {plain(err, 200)}"
        uploads.refuse(state, "train.upload", upload, reason, icon=":material/description:")
    state.add_run(f"{result.spec.describe()} · loaded from {upload.name}", result.dataset, loaded=result)
    state.set_spec(result.spec)
    st.rerun()


def saved_score(value: float | None, pattern: str, missing: str) -> str:
    return missing if value is None else pattern.format(value)


def saved_runs_section(state: AppState) -> None:
    saved = store.list_runs()
    where = plain(folder_words(store.runs_dir(), "the runs folder"), 200)
    with st.expander(f"Saved runs on this computer ({len(saved)}) in {where}", key="train.saved_list"):
        if not saved:
            st.caption(
                "Every run is saved here while it trains (at most once a minute, at the end of an epoch), when it "
                "finishes or is stopped, and listed again after a restart."
            )
            return
        st.dataframe(
            [
                {
                    "id": r.run_id,
                    "model": option_text(r.summary.get("model") or "", 200),  # a file's text, as typed
                    "data": option_text(r.summary.get("dataset") or "", 200),
                    "status": saved_run_status(r),
                    "epochs": r.summary.get("epochs_done"),
                    "test accuracy": saved_score(r.summary.get("test_accuracy"), "{:.1%}", "not measured"),
                    "test loss": saved_score(r.summary.get("test_loss"), "{:.4f}", ""),
                }
                for r in saved[:200]
            ],
            hide_index=True,
            key="train.saved",
            column_config={
                "test accuracy": st.column_config.TextColumn(help="An autoencoder rebuilds images: no accuracy"),
            },
        )
        cols = st.columns([3, 1], vertical_alignment="bottom")
        chosen = cols[0].selectbox("Saved run", [r.run_id for r in saved[:200]], key="train.saved_choice")
        if cols[1].button("Load it", key="train.load_saved"):
            try:
                restore_saved(state, store.find_run(chosen))
            except CoreError as err:
                st.error(f"Could not load {plain(chosen)}: {plain(err, 200)}", icon=":material/description:")
            else:
                st.rerun()


def memory_notice(state: AppState) -> None:
    """The visitor's share of the memory budget; a warning when runs saved nowhere keep them over it."""
    share = state.memory_share()
    if warning := over_budget_words(share):
        st.warning(warning, icon=":material/memory:")
    elif state.kept_models():
        st.caption(memory_words(share))


def runs_section(state: AppState) -> None:
    st.markdown("### Runs")
    if state.runs:
        runs_table(state)
        memory_notice(state)
        chosen_run_actions(state)
    load_checkpoint_upload(state)
    saved_runs_section(state)


dataset = choose_dataset(state)
if state.active_run is not None:
    # while a run trains its live view comes first, on screen right after Start even on a 720 px projector
    live_panel(True, dataset)
    settings_form(state, dataset)
else:
    settings_form(state, dataset)
    live_panel(False, dataset)
runs_section(state)
