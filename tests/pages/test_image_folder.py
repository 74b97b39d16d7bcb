"""The Train page with the visitor's own images: an unpacked zip is shown and trainable; names from
the zip are shown as text, never as markdown. (AppTest cannot upload a file: the browser test does.)"""

from __future__ import annotations

import io
import zipfile

from PIL import Image

from core.data.archive import unpack_upload
from tests.support import button, state


def zip_of_sample(sample, names: tuple[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for i in range(40):
            png = io.BytesIO()
            Image.fromarray(sample.train_images[i, :, :, 0]).save(png, format="PNG")
            z.writestr(f"mine/train/{names[i % 2]}/{i:03d}.png", png.getvalue())
    return buffer.getvalue()


def test_an_unpacked_zip_is_the_data_with_its_folder_names(app, sample):
    folder = unpack_upload(zip_of_sample(sample, ("[evil](javascript:x)", "_two_")))
    app.switch_page("pages/train.py").run()
    app.radio(key="train.dataset").set_value("folder").run()
    assert any("Upload a .zip" in i.value for i in app.info)
    assert button(app, "Start training").disabled
    state(app).image_folder = str(folder)
    app.run()
    assert not app.exception and not app.error
    (expander,) = [e for e in app.expander if "Images in" in e.label]
    assert r"2 classes \(\[evil\]\(javascript\:x\), \_two\_\), 32 train / 8 test" in expander.label
    assert not button(app, "Start training").disabled
    assert state(app).dataset_name == f"folder:{folder}"


def test_draw_asks_for_one_of_the_folder_classes(app, sample):
    folder = unpack_upload(zip_of_sample(sample, ("*cat*", "dog")))
    state(app).dataset_name = f"folder:{folder}"
    app.switch_page("pages/draw.py").run()
    assert not app.exception
    assert app.title[0].value == ":material/draw: Draw a picture"
    assert r"Draw one picture of one of\: \*cat\*, dog with the mouse" in app.caption[0].value
