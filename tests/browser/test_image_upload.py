"""Uploading a .zip of class folders in a real browser: a good one becomes the data, a hostile one is refused."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from testkit.browser_support import choose_data, goto, no_exception
from testkit.waits import HANG_S

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def choose_own_images(page, server: str) -> None:
    goto(page, f"{server}/train")
    choose_data(page, "Your own images (a .zip of class folders)")
    page.get_by_text("Upload a .zip of class folders").first.wait_for(timeout=HANG_S * 1000)


def upload(page, path) -> None:
    """The zip uploader comes before the checkpoint uploader (in Runs) on the page."""
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(path))


def test_a_zip_of_class_folders_becomes_the_data(page, server, tmp_path, sample):
    path = tmp_path / "mine.zip"
    with zipfile.ZipFile(path, "w") as z:
        for i in range(40):
            png = io.BytesIO()
            Image.fromarray(sample.train_images[i, :, :, 0]).save(png, format="PNG")
            z.writestr(f"mine/train/{('circle', 'line')[i % 2]}/{i:03d}.png", png.getvalue())
    choose_own_images(page, server)
    upload(page, path)
    page.get_by_text("2 classes (circle, line), 32 train / 8 test").first.wait_for(timeout=HANG_S * 1000)
    no_exception(page)


def test_a_zip_leaving_its_folder_is_refused(page, server, tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("../../evil.png", b"x")
    choose_own_images(page, server)
    upload(page, path)
    page.get_by_text("a path leaving its folder").first.wait_for(timeout=HANG_S * 1000)
    no_exception(page)
