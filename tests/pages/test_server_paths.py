"""Served to other computers (``server.address`` beyond loopback), no page shows a server path: the runs
folder, the data roots and the uploads folder are named by their role. On loopback the paths stay."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator

import pytest
from PIL import Image
from streamlit import config

from components.server_paths import DATA_ROOTS_VAR
from core.data import DataError, load_dataset
from core.data.archive import UPLOAD_ROOT, unpack_upload
from core.runs import store
from testkit.support import page_texts, shown, state

SERVED, LOOPBACK = "0.0.0.0", "127.0.0.1"


@pytest.fixture(params=[SERVED, LOOPBACK])
def address(request) -> Iterator[str]:
    """The address the server listens on, as ``streamlit run --server.address`` sets it."""
    before = config.get_option("server.address")
    config.set_option("server.address", request.param)
    yield request.param
    config.set_option("server.address", before)


@pytest.fixture
def runs_folder(tmp_path, monkeypatch):
    folder = tmp_path / "secret-runs"
    monkeypatch.setenv(store.ENV_VAR, str(folder))
    monkeypatch.setenv(DATA_ROOTS_VAR, os.pathsep.join(str(tmp_path / name) for name in ("root-a", "root-b")))
    return folder


def shown_texts(at) -> list[str]:
    """Everything the page shows as text: markdown as a browser shows it, options, table cells."""
    markdown, typed = page_texts(at)
    cells = [str(cell) for table in at.dataframe for cell in table.value.to_numpy().ravel()]
    return [shown(body) for body in markdown] + typed + cells


def assert_no_server_path(at, *paths) -> None:
    for text in shown_texts(at):
        for path in (*paths, UPLOAD_ROOT):
            assert str(path) not in text, text


def test_the_saved_runs_caption_names_the_runs_folder_by_its_role(app, address, runs_folder):
    app.switch_page("pages/train.py").run()
    assert not app.exception
    [label] = [shown(e.label) for e in app.expander if e.label.startswith("Saved runs")]
    assert label == "Saved runs on this computer (0)"  # the folder is named inside, in a caption
    [where] = [shown(c.value) for c in app.caption if c.value.startswith("Saved in ")]
    if address == SERVED:
        assert where == "Saved in the runs folder."
        assert_no_server_path(app, runs_folder.parent)
    else:
        assert where == f"Saved in {runs_folder}."


def test_a_data_root_refusal_names_the_roots_by_their_role(app, address, runs_folder, tmp_path):
    app.switch_page("pages/train.py").run()
    app.radio(key="train.dataset").set_value("idx").run()
    app.text_input(key="train.idx_folder").set_value(str(tmp_path / "elsewhere")).run()
    assert not app.exception
    [refusal] = [shown(e.value) for e in app.error if "Could not load this data" in e.value]
    if address == SERVED:
        assert "not allowed" in refusal and "data roots (data root 1, data root 2, the uploads folder;" in refusal
        assert_no_server_path(app, tmp_path)
    else:  # any folder may be read: the one typed does not exist, as core says (a long path shortened)
        with pytest.raises(DataError) as said:
            load_dataset(f"idx:{tmp_path / 'elsewhere'}")
        assert "does not exist" in str(said.value)
        assert refusal == f"Could not load this data: {said.value}"


def test_an_uploaded_zip_is_named_by_the_uploads_folder(app, address, runs_folder, sample):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for i in range(40):
            png = io.BytesIO()
            Image.fromarray(sample.train_images[i, :, :, 0]).save(png, format="PNG")
            z.writestr(f"mine/train/{('cat', 'dog')[i % 2]}/{i:03d}.png", png.getvalue())
    folder = unpack_upload(buffer.getvalue())
    app.switch_page("pages/train.py").run()
    app.radio(key="train.dataset").set_value("folder").run()
    state(app).train.image_folder = str(folder)
    app.run().run()  # the sidebar, drawn first, names the data from the second run on
    assert not app.exception
    [label] = [shown(e.label) for e in app.expander if "2 classes" in e.label]
    sidebar = [shown(m.value) for m in app.sidebar.markdown if m.value.startswith("Dataset")]
    # an upload's temporary folder means nothing to its visitor: never shown, served or not
    assert label.startswith("Your uploaded images: 2 classes (cat, dog)")
    assert sidebar == ["Dataset: your images"]
    if address == SERVED:
        assert_no_server_path(app, runs_folder.parent)


def test_the_idx_folder_is_offered_by_its_data_root(app, address, runs_folder, monkeypatch):
    debian = "/usr/share/datasets"
    monkeypatch.setenv(DATA_ROOTS_VAR, debian)
    app.switch_page("pages/train.py").run()
    app.radio(key="train.dataset").set_value("idx").run()
    assert not app.exception and not app.error
    typed = app.text_input(key="train.idx_folder").value
    # the folder as shown reads Debian's Fashion-MNIST (the page names its data only once it loaded)
    assert state(app).dataset_name == f"idx:{debian}/fashion-mnist"
    if address == SERVED:
        assert typed == "data root 1/fashion-mnist"
        assert_no_server_path(app, debian)
    else:
        assert typed == f"{debian}/fashion-mnist"
