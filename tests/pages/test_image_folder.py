"""The Train page with the visitor's own images: an unpacked zip is shown and trainable; names from
the zip are shown as text, never as markdown. (AppTest cannot upload a file: the browser test does.)"""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from core.data.archive import unpack_upload
from testkit.support import button, metric, page_texts, shown, state, wait_for_training


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
    state(app).train.image_folder = str(folder)
    app.run()
    assert not app.exception and not app.error
    (expander,) = [e for e in app.expander if "2 classes" in e.label]
    assert "2 classes ([evil](javascript:x), _two_), 32 train / 8 test" in shown(expander.label)
    assert not button(app, "Start training").disabled
    assert state(app).dataset_name == f"folder:{folder}"


def test_draw_asks_for_one_of_the_folder_classes(app, sample):
    folder = unpack_upload(zip_of_sample(sample, ("*cat*", "dog")))
    state(app).dataset_name = f"folder:{folder}"
    app.switch_page("pages/draw.py").run()
    assert not app.exception
    assert app.title[0].value == ":material/draw: Draw a picture"
    assert "Draw one picture of one of: *cat*, dog with the mouse" in shown(app.caption[0].value)


@pytest.mark.slow
def test_training_on_a_two_class_folder_then_results_explore_and_draw(app, sample):
    keep = sample.train_labels < 2  # zeros and ones, named by their folders
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for i, (image, label) in enumerate(
            zip(sample.train_images[keep][:400], sample.train_labels[keep][:400], strict=True)
        ):
            png = io.BytesIO()
            Image.fromarray(image[:, :, 0]).save(png, format="PNG")
            z.writestr(f"train/{('zero', 'one')[label]}/{i:03d}.png", png.getvalue())
    state(app).train.image_folder = str(unpack_upload(buffer.getvalue()))
    app.switch_page("pages/train.py").run()
    app.radio(key="train.dataset").set_value("folder").run()
    app.number_input(key="train.epochs").set_value(2)
    button(app, "Start training").click().run()
    wait_for_training(app)
    assert not app.exception
    run = state(app).runs[-1]
    assert run.status == "finished" and run.result.final_metrics.test_accuracy > 0.95
    for page in ("pages/results.py", "pages/explore.py", "pages/draw.py"):
        app.switch_page(page).run()
        assert not app.exception, page
    app.switch_page("pages/results.py").run()
    assert metric(app, "Test accuracy") == f"{run.result.final_metrics.test_accuracy:.1%}"


SHAPES = ("circles", "squares", "triangles")


def _zip_of(sample, images: int, classes: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for i in range(images):
            png = io.BytesIO()
            Image.fromarray(sample.train_images[i, :, :, 0]).save(png, format="PNG")
            z.writestr(f"train/{SHAPES[i % classes]}/{i:03d}.png", png.getvalue())
    return buffer.getvalue()


@pytest.mark.parametrize("presenter", [False, True])
def test_a_90_image_zip_trains_with_a_batch_that_follows_it_and_says_so(app, sample, presenter):
    app.sidebar.toggle(key="sidebar.presenter").set_value(presenter).run()
    state(app).train.image_folder = str(unpack_upload(_zip_of(sample, 90, 3)))
    app.switch_page("pages/train.py").run()
    app.radio(key="train.dataset").set_value("folder").run()
    said = "Batch size 16 instead of 128: there are only 72 training images"
    assert any(said in i.value for i in app.info), [i.value for i in app.info]
    app.number_input(key="train.epochs").set_value(1)
    button(app, "Start training").click().run()
    wait_for_training(app)
    assert not app.exception and not app.error, [e.value for e in app.error]
    run = state(app).runs[-1]
    assert run.status == "finished" and run.result.config.batch_size == 16
    assert run.result.spec.num_classes == 3  # one output per class folder, no "(unused 3)" to "(unused 9)"
    assert state(app).config.batch_size == 128  # kept for the next, larger data
    app.switch_page("pages/sweep.py").run()
    assert any(said in i.value for i in app.info), [i.value for i in app.info]
    assert not app.exception and not app.error
    if presenter:
        return
    for page in ("pages/train.py", "pages/results.py", "pages/inside.py"):
        app.switch_page(page).run()
        text = " ".join(shown(m) for m in page_texts(app)[0])
        found = [w for w in ("(unused", "folder:", "flax-dashboard-uploads") if w in text]
        assert not found, (page, found, [t for t in page_texts(app)[0] if any(w in t for w in found)])
    app.switch_page("pages/inside.py").run()
    assert any(": a circle." in shown(c.value) for c in app.caption), [c.value for c in app.caption]
