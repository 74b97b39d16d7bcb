"""The ONNX download in a real browser: train, Prepare ONNX, download the file, and it answers like the model
in onnxruntime; screenshots at a projector's 1280x720 and a phone's 390x844."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
from playwright.sync_api import expect

from core.data import load_dataset
from testkit.browser_support import ARTIFACTS, goto, no_exception, train_on_page, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_trained_model_downloads_as_a_checked_onnx_file(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        goto(page, server)
        train_on_page(page, 1)
        page.get_by_role("button", name="Prepare ONNX").click()
        download = page.get_by_role("button", name="Download ONNX")
        expect(download).to_be_visible(timeout=600_000)  # a conversion in a child process: seconds, guarded long
        wait_idle(page)
        expect(page.get_by_role("button", name="Prepare ONNX")).to_have_count(0)
        check = page.get_by_text("Checked with onnxruntime on 500 test images")
        expect(check).to_contain_text("and it predicts the same class for every image.")
        no_exception(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.mouse.move(0, 0)  # no tooltip over the screenshot
        download.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "onnx-download-1280x720.png"))
        with page.expect_download() as saved:
            download.click()
        assert saved.value.suggested_filename == "run1.onnx"
        path = tmp_path / "run1.onnx"
        saved.value.save_as(path)
        page.set_viewport_size({"width": 390, "height": 844})
        wait_idle(page)
        download.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "onnx-download-390x844.png"))
    finally:
        context.close()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["output"] == "logits"
    images = load_dataset("sample").test_images[:20].astype(np.float32) / 255
    logits = session.run(None, {"images": images})[0]
    assert logits.shape == (20, 10) and np.all(np.isfinite(logits))
