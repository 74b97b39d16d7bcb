"""The Train page's live views: the model being trained shows its answers (or reconstructions), its
latent map and its first layer's weights, from the job's latest parameters."""

from __future__ import annotations

import re

from core import predict
from core.data import load_dataset
from testkit.support import button, state, wait_for_training


def _train(app, epochs: int = 1) -> None:
    app.switch_page("pages/train.py").run()
    app.number_input(key="train.epochs").set_value(epochs)
    button(app, "Start training").click().run()
    wait_for_training(app)
    assert not app.exception


def test_a_classifier_in_training_shows_its_answers_and_first_layer_weights(app):
    _train(app)
    run = state(app).runs[-1]
    assert any(m.value == f"#### The model after {run.result.steps:,} steps" for m in app.markdown)
    said = next(c.value for c in app.caption if c.value.startswith("Its answers: "))
    sample = load_dataset("sample")
    answers = predict.predict_probabilities(run.spec, run.result.params, sample.test_images[:8]).argmax(1)
    assert [int(a) for a in re.findall(r"[✓✗] (\d) \(", said)] == answers.tolist()
    assert any("random weights look like noise" in c.value for c in app.caption)
    app.toggle(key="train.watch").set_value(False).run()
    assert not any(c.value.startswith("Its answers: ") for c in app.caption)


def test_an_autoencoder_in_training_shows_its_reconstructions_and_latent_map(app):
    app.switch_page("pages/build.py").run()
    app.get("button_group")[0].set_value("autoencoder").run()
    _train(app)
    assert any("what the autoencoder rebuilds" in c.value for c in app.caption)
    assert any("The codes of 500 test images" in c.value for c in app.caption)  # the latent map's sentence


def test_live_pictures_travel_inside_the_page_so_a_redraw_never_leaves_a_missing_file(app):
    # a /media file of a picture redrawn every second is removed by the next redraw, often before the browser
    # fetched it (a 404 and a broken image); a data URL comes with the page's own message
    _train(app)
    urls = {image.caption: image.url for element in app.get("image") for image in element.proto.imgs}
    live = [url for caption, url in urls.items() if caption != "First training images"]
    assert len(live) == 2 and all(url.startswith("data:image/png;base64,") for url in live), urls
