"""Train: pick data and settings, start and stop a run, watch its curves live, compare runs."""

from __future__ import annotations

import streamlit as st

from components import resources, uploads
from components.frame import require_frame
from components.i18n import N_, _, error_text, message_text
from components.run_panel import live_panel
from components.saved_runs import runs_section
from components.server_paths import hide_server_paths, typed_folder
from components.state import AppState, get_state
from components.take_home import script_downloads
from components.train_settings import settings_form
from components.words import plain
from core.data import Dataset, archive
from core.errors import CoreError

require_frame()

DATASETS = {
    "sample": N_("Bundled sample: 5,000 real MNIST digits (works offline)"),
    "mnist": N_("MNIST: 70,000 digits, downloaded once through tensorflow-datasets"),
    "fashion_mnist": N_("Fashion-MNIST: 70,000 clothing photos, via tensorflow-datasets"),
    "kmnist": N_("Kuzushiji-MNIST: 70,000 cursive hiragana (10 characters), via tensorflow-datasets"),
    "emnist_digits": N_("EMNIST digits: 280,000 handwritten digits, via tensorflow-datasets (a 562 MB download)"),
    "emnist_letters": N_(
        "EMNIST letters: 145,600 handwritten letters (26 classes, capital and small together), "
        "via tensorflow-datasets (the same 562 MB download)"
    ),
    "idx": N_("A folder of IDX files on this computer"),
    "folder": N_("Your own images (a .zip of class folders)"),
}
IDX_FOLDER = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist package

state = get_state()
spec = state.spec

st.title(":material/show_chart: " + _("Train"))
st.caption(
    _(
        "Teach **{model}** from examples: show it a batch of images, measure how wrong it is "
        "(the loss), nudge every parameter to be a little less wrong, repeat."
    ).format(model=spec.describe())
)


# ----- data ---------------------------------------------------------------------------------
def choose_dataset(state: AppState) -> Dataset | None:
    current = state.dataset_name.split(":", 1)[0] if ":" in state.dataset_name else state.dataset_name
    current = current if current in DATASETS else "sample"
    # one choice in sight, the sources folded away (open while a folder or an upload needs a word)
    folded = st.expander(
        _("Images to learn from: {data}").format(data=_(DATASETS[current])), expanded=current in ("idx", "folder")
    )
    choice = folded.radio(
        _("Data"), list(DATASETS), format_func={name: _(text) for name, text in DATASETS.items()}.__getitem__,
        index=list(DATASETS).index(current), key="train.dataset",
        help=_("Which images to learn from. Each has a separate test set the model never trains on."),
    )  # fmt: skip
    name = choice
    if choice == "idx":
        typed = folded.text_input(
            _("Folder"), value=hide_server_paths(state.train.idx_folder or IDX_FOLDER), key="train.idx_folder",
            help=_("A folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
                   "t10k-labels-idx1-ubyte (each may end in .gz)."),
        )  # fmt: skip
        folder = state.train.idx_folder = typed_folder(typed)
        name = f"idx:{folder}"
    elif choice == "folder":
        with folded:
            folder = upload_image_zip(state)
        if folder is None:
            return None
        name = f"folder:{folder}"
    try:
        with st.spinner(_("Loading the images…")):
            dataset = resources.dataset(name)
    except CoreError as err:
        said = plain(error_text(err), 300)  # quotes a folder or a zip's names: the visitor's text
        st.error(_("Could not load this data: {reason}").format(reason=said), icon=":material/cloud_off:")
        return None
    state.dataset_name = name
    # the bundled sample's description is in the catalogue; a folder's names its own files, as they are
    with st.expander(plain(message_text(dataset.description), 300), expanded=choice == "folder"):
        st.image(resources.first_images_png(name), caption=_("First training images"), output_format="PNG")
        labels = ", ".join(dataset.class_names[int(i)] for i in dataset.train_labels[:16])
        st.caption(_("Labels: {labels} …").format(labels=plain(labels, 300)))
    return dataset


def upload_image_zip(state: AppState) -> str | None:
    """The folder of this visitor's uploaded image zip, unpacked once per upload; None until there is one."""
    upload = uploads.uploader(
        state, "train.image_zip", _("A .zip of your images"), type=["zip"],
        help=_("Inside the zip: train/<class name>/<images> and, optionally, test/<class name>/<images> "
               "(PNG, JPEG, BMP, GIF or WebP; at most 10 classes). Without test/, a fifth of each class is held out. "
               "Images become 28x28 grey, light on dark like MNIST."),
    )  # fmt: skip
    if upload is not None and upload.file_id != state.train.uploaded_zip_id:
        state.train.uploaded_zip_id = upload.file_id
        try:
            with st.spinner(_("Unpacking the images…")):
                state.train.image_folder = str(archive.unpack_upload(upload.getvalue()))
        except CoreError as err:
            state.train.image_folder = ""
            reason = _("Could not use {name}: {reason}").format(
                name=plain(upload.name), reason=plain(error_text(err), 300)
            )
            uploads.refuse(state, "train.image_zip", upload, reason, icon=":material/folder_zip:")
    if not state.train.image_folder:
        st.info(_("Upload a .zip of class folders to train on your own images."), icon=":material/folder_zip:")
        return None
    return state.train.image_folder


if state.active_run is not None:
    # while a run trains its live view comes first, its curve on screen right after Start even on a 720 px
    # projector; the data it trains on is the one chosen, shown with the settings below
    try:
        live_panel(True, resources.dataset(state.dataset_name))
    except CoreError:
        live_panel(True, None)
    dataset = choose_dataset(state)
    settings_form(state, dataset)
else:
    dataset = choose_dataset(state)
    settings_form(state, dataset)
    live_panel(False, dataset)
runs_section(state)
with st.expander(_("Train this model on your own computer"), icon=":material/download:"):
    script_downloads(spec, state.config, state.dataset_name, "train", trained=False)
