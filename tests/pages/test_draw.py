"""The Draw page: an empty canvas asks for a drawing; a drawing is shown as the model sees it,
then classified (MLP) or rebuilt (autoencoder).

AppTest cannot move a mouse, so a test hands the page what the canvas component sends after a
stroke: its state ``{"drawing": {"raw": fabric JSON, "data": PNG data URL}}`` under the
widget's key (streamlit-drawable-canvas 0.13). The browser test draws for real.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from core import canvas, predict
from core.data import load_dataset
from core.spec import ModelSpec
from core.training import TrainConfig, TrainResult, train
from testkit.support import metric, select_trained

PAGE = "pages/draw.py"


@pytest.fixture(scope="module")
def classifier() -> TrainResult:
    return train(ModelSpec.mlp((64,)), TrainConfig(epochs=3), load_dataset("sample"))


@pytest.fixture(scope="module")
def autoencoder() -> TrainResult:
    return train(ModelSpec.autoencoder((64, 8), (64,)), TrainConfig(epochs=1), load_dataset("sample"))


def drawn_digit(index: int) -> np.ndarray:
    """Sample test digit ``index`` as a person might draw it: dark ink on the white 280x280
    canvas, three times bigger, off-centre. RGBA like the canvas sends."""
    digit = load_dataset("sample").test_images[index, ..., 0]
    ink = np.zeros((280, 280), np.uint8)
    ink[150:234, 20:104] = np.kron(digit, np.ones((3, 3), np.uint8))
    grey = 255 - ink
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


def draw(at, rgba: np.ndarray) -> None:
    """What the canvas sends after a stroke, then a rerun."""
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    at.session_state["draw.canvas"] = {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url}}
    at.run()


def test_a_fresh_session_shows_the_canvas_and_explains_what_to_do(app):
    app.switch_page(PAGE).run()
    assert not app.exception
    infos = [i.value for i in app.info]
    assert any("Draw something first" in text for text in infos)
    assert any("has not been trained yet" in text for text in infos)
    assert app.slider(key="draw.pen").help


def test_a_drawing_is_prepared_even_before_training(app):
    app.switch_page(PAGE).run()
    draw(app, drawn_digit(0))
    assert not app.exception
    assert len(app.get("image")) == 1  # the 28x28 as the model sees it
    assert any("Cropped to the ink" in c.value for c in app.caption)


def test_a_trained_classifier_reads_a_drawn_sample_digit(app, classifier):
    dataset = load_dataset("sample")
    originals = predict.predict_probabilities(classifier.spec, classifier.params, dataset.test_images[:20])
    index = next(i for i in range(20) if originals[i].argmax() == dataset.test_labels[i])
    select_trained(app, classifier)
    app.switch_page(PAGE).run()
    draw(app, drawn_digit(index))
    assert not app.exception
    assert metric(app, "The model says") == str(dataset.test_labels[index])
    prepared = canvas.prepare_drawing(drawn_digit(index)).image
    expected = predict.predict_probabilities(classifier.spec, classifier.params, prepared[None])[0]
    assert next(m.delta for m in app.metric if m.label == "The model says") == f"{expected.max():.0%} sure"
    assert len(app.get("plotly_chart")) == 1  # the probability of every class


def test_a_trained_autoencoder_rebuilds_the_drawing(app, autoencoder):
    select_trained(app, autoencoder)
    app.switch_page(PAGE).run()
    draw(app, drawn_digit(3))
    assert not app.exception
    assert len(app.get("image")) == 2  # as the model sees it, and rebuilt
    prepared = canvas.prepare_drawing(drawn_digit(3)).image[None]
    rebuilt = predict.reconstruct(autoencoder.spec, autoencoder.params, prepared)
    assert metric(app, "Reconstruction error") == f"{float(np.mean((rebuilt - prepared) ** 2)):.4f}"


def test_clearing_the_canvas_asks_for_a_drawing_again(app, classifier):
    select_trained(app, classifier)
    app.switch_page(PAGE).run()
    draw(app, drawn_digit(1))
    assert metric(app, "The model says")
    draw(app, np.full((280, 280, 4), 255, np.uint8))  # the bin button: a blank white canvas
    assert not app.exception
    assert any("Draw something first" in i.value for i in app.info)
    assert not app.metric
