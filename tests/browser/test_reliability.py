"""Faults and many visitors, in real browsers against one server."""

from __future__ import annotations

import pickle
import time

import pytest
from playwright.sync_api import expect

from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.browser_support import (
    choose_data,
    goto,
    no_exception,
    open_page,
    screenshot,
    sidebar_text,
    start_server,
    start_training,
    stop_server,
    wait_for_sidebar,
    wait_idle,
)
from testkit.waits import HANG_S

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_four_visitors_two_training_each_sees_only_their_own(browser, strict_server):
    _, url = strict_server
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(4)]
    pages = [c.new_page() for c in contexts]
    try:
        for page in pages[2:]:  # two more visitors have the dashboard open
            goto(page, url)
        # visitor 0 trains an MLP, visitor 1 an autoencoder, at the same time
        goto(pages[1], url)
        pages[1].get_by_role("radio", name="AutoEncoder").click()
        wait_idle(pages[1])
        goto(pages[0], f"{url}/train")
        start_training(pages[0], epochs=300)
        open_page(pages[1], "Train")
        start_training(pages[1], epochs=300)
        wait_for_sidebar(pages[0], "Training: epoch")
        wait_for_sidebar(pages[1], "Training: epoch")
        assert "MLP 784-512-256-10" in sidebar_text(pages[0])
        assert "AutoEncoder" in sidebar_text(pages[1])
        # The trainers look at their models while training goes on (the sidebar keeps counting). All four
        # "visitors" share this machine's two cores with the server and both trainings, so live charts
        # redrawn every second in two other tabs would be measured too; a visitor's own browser would not.
        for page in pages[:2]:
            open_page(page, "Build")
        # meanwhile the other two click through pages, each drawn with its content and no one else's run
        # (how long a switch takes with two trainings running is measured by benchmarks.app, not asserted)
        for page in pages[2:]:
            open_page(page, "Variables")
            expect(page.get_by_text("535,818 parameters").first).to_be_visible()  # the default MLP 784-512-256-10
            open_page(page, "Build")
            expect(page.get_by_role("spinbutton", name="units")).to_have_count(2)  # the default MLP's two hidden layers
            open_page(page, "Train")
            expect(page.get_by_role("button", name="Start training")).to_be_visible()
            expect(page.get_by_text("No run yet").first).to_be_visible()
            sidebar = sidebar_text(page)
            assert "Idle" in sidebar and "Trainings on this server: 2 running" in sidebar, sidebar
        # a third training waits for a free slot, with a message
        start_training(pages[2], epochs=1)
        wait_for_sidebar(pages[2], "Waiting for a free training slot")
        screenshot(pages[2], "11-queued")
        # each training visitor sees only their own run: one row in the runs table
        for page in pages[:2]:
            open_page(page, "Train")
            page.get_by_role("button", name="Stop").click()
            wait_for_sidebar(page, "Stopped")
            assert page.locator('[data-testid="stDataFrame"]').first.inner_text().count("Run") <= 1
        wait_for_sidebar(pages[2], "Finished")
        for page in pages:
            no_exception(page)
    finally:
        for context in contexts:
            context.close()


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("random.msgpack", bytes(range(256)) * 40, "not a checkpoint of this tool"),
        ("empty.msgpack", b"", "is empty"),
        ("pickle.msgpack", pickle.dumps({"format": "flax-dashboard-checkpoint"}), "not a checkpoint"),
    ],
)
def test_bad_uploads_are_explained(page, server, tmp_path, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    goto(page, f"{server}/train")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    page.get_by_text(words).first.wait_for(timeout=HANG_S * 1000)
    no_exception(page)


def test_a_good_upload_becomes_the_current_model(page, server, tmp_path, small):
    result = train(ModelSpec.mlp((32,)), TrainConfig(epochs=1), small)
    path = checkpoint.save(tmp_path / "mine.msgpack", result)
    goto(page, f"{server}/train")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    wait_for_sidebar(page, "MLP 784-32-10")
    open_page(page, "Results")
    expect(page.get_by_text(f"{result.final_metrics.test_accuracy:.1%}").first).to_be_visible()


def test_an_oversized_upload_is_refused_before_it_is_read(browser, tmp_path):
    """Streamlit enforces server.maxUploadSize (400 MB in .streamlit/config.toml); here 1 MB."""
    proc, url = start_server({"STREAMLIT_SERVER_MAX_UPLOAD_SIZE": "1"})
    try:
        page = browser.new_context().new_page()
        big = tmp_path / "big.msgpack"
        big.write_bytes(b"\0" * 3_000_000)
        goto(page, f"{url}/train")
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(big))
        page.get_by_text("File must be 1.0MB or smaller.").first.wait_for(timeout=HANG_S * 1000)
        no_exception(page)
        assert "loaded from big.msgpack" not in sidebar_text(page)
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def upload_server():
    """A server of its own, so that no other test's uploads are counted."""
    proc, url = start_server()
    yield url
    stop_server(proc)


def uploads_held(server: str) -> int:
    """Bytes of uploads Streamlit's uploader holds now, every session together, from ``/_stcore/metrics``
    (which recounts them at most every 5 s: the wait makes this a fresh count)."""
    import urllib.request

    time.sleep(5.5)
    with urllib.request.urlopen(f"{server}/_stcore/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines() if 'cache_type="UploadedFileManager"' in line
    )


def hostile_zip(path, padding: int) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("padding.bin", bytes(range(256)) * (padding // 256))  # stored: the upload is this big
        z.writestr("../../evil.png", b"x")


@pytest.mark.parametrize("uploader", ["checkpoint", "image zip"])
def test_a_refused_upload_is_dropped_from_the_uploader_and_its_message_stays(page, upload_server, tmp_path, uploader):
    server = upload_server
    if uploader == "checkpoint":
        path, words, label = tmp_path / "random.msgpack", "not a checkpoint of this tool", "Load a checkpoint"
        path.write_bytes(bytes(range(256)) * (2_000_000 // 256))
        goto(page, f"{server}/train")
    else:
        path, words, label = tmp_path / "evil.zip", "a path leaving its folder", "A .zip of your images"
        hostile_zip(path, 2_000_000)
        goto(page, f"{server}/train")
        choose_data(page, "Your own images (a .zip of class folders)")
    before = uploads_held(server)
    # the uploader by its label: on a slow machine the zip's uploader may not be drawn yet, and the page's
    # first uploader (the checkpoint's) would get the zip
    dropzone = page.locator('[data-testid="stFileUploader"]').filter(has_text=label)
    dropzone.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    page.get_by_text(words).first.wait_for(timeout=HANG_S * 1000)
    wait_idle(page)
    # the file is gone from the widget (a fresh, empty uploader), the reason is still on the page ...
    expect(page.locator('[data-testid="stFileChipName"]')).to_have_count(0)
    expect(page.get_by_text(words).first).to_be_visible()
    no_exception(page)
    # ... and its bytes from the server's memory
    assert uploads_held(server) == before
