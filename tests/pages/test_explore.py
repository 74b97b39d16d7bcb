"""The Explore page: explains itself without a trained autoencoder, and with one its sliders,
map and walk decode codes into images."""

from __future__ import annotations

import numpy as np
import pytest

from core import predict
from core.data import load_dataset
from core.latent import latent_axes
from core.spec import ModelSpec
from core.training import TrainConfig, TrainResult, train
from testkit.support import select_trained, state

PAGE = "pages/explore.py"


@pytest.fixture(scope="module")
def two_number_autoencoder() -> TrainResult:
    return train(ModelSpec.autoencoder((64, 2), (64,)), TrainConfig(epochs=2), load_dataset("sample"))


@pytest.fixture(scope="module")
def wide_autoencoder() -> TrainResult:
    return train(ModelSpec.autoencoder((64, 12), (64,)), TrainConfig(epochs=1), load_dataset("sample"))


def image_urls(at) -> list[str]:
    """One URL per st.image; the media URL is a hash of the picture, so it changes with it."""
    return [image.proto.imgs[0].url for image in at.get("image")]


def test_with_a_classifier_the_page_says_it_needs_an_autoencoder(app):
    app.switch_page(PAGE).run()
    assert not app.exception
    assert "needs an **autoencoder**" in app.info[0].value
    assert not app.slider


def test_an_untrained_autoencoder_is_explained_not_shown_as_noise(app):
    state(app).set_spec(ModelSpec.autoencoder())
    app.switch_page(PAGE).run()
    assert not app.exception
    assert "has not been trained yet" in app.info[0].value


def test_sliders_decode_the_chosen_code(app, two_number_autoencoder):
    run_id = select_trained(app, two_number_autoencoder)
    app.switch_page(PAGE).run()
    assert not app.exception
    sliders = [app.slider(key=f"explore.{run_id}.axis{i}") for i in range(2)]
    assert [s.label for s in sliders] == ["code number 1", "code number 2"]
    assert all(s.help for s in app.slider)
    before = image_urls(app)
    assert len(before) == 3  # the slider's image, the picked point, the walk

    sliders[0].set_value(sliders[0].max).run()
    assert not app.exception
    after = image_urls(app)
    assert after[0] != before[0] and after[1:] == before[1:]
    code = f"Code: {sliders[0].max:.2f}, {sliders[1].value:.2f}"
    assert any(c.value == code for c in app.caption)


def test_a_wide_code_gets_two_main_direction_sliders(app, wide_autoencoder):
    run_id = select_trained(app, wide_autoencoder)
    app.switch_page(PAGE).run()
    assert not app.exception
    labels = [app.slider(key=f"explore.{run_id}.axis{i}").label for i in range(2)]
    assert all(label.startswith(f"main direction {i + 1} (") for i, label in enumerate(labels))
    assert any("The code has 12 numbers" in c.value for c in app.caption)
    # the map point of a test image, decoded, differs from the image's full code decoded
    assert len(image_urls(app)) == 3
    assert any("decoded from its full code" in c.value for c in app.caption)


def test_clicking_a_point_on_the_map_decodes_that_point(app, two_number_autoencoder):
    select_trained(app, two_number_autoencoder)
    app.switch_page(PAGE).run()
    dataset = load_dataset("sample")
    codes = predict.encode(two_number_autoencoder.spec, two_number_autoencoder.params, dataset.test_images[[42]])
    x, y = latent_axes(codes.repeat(2, axis=0), max_unit_axes=2).coordinates(codes)[0]
    click = {"x": float(x), "y": float(y), "customdata": 42, "curve_number": 0, "point_number": 0, "point_index": 0}
    app.session_state["explore.map"] = {"selection": {"points": [click], "point_indices": [0], "box": [], "lasso": []}}
    app.run()
    assert not app.exception
    assert any(c.value.startswith("Test image #42,") for c in app.caption)
    assert not any(s.label == "Or choose a test image" for s in app.selectbox)


def test_the_walk_between_two_images_decodes_each_step(app, two_number_autoencoder):
    select_trained(app, two_number_autoencoder)
    app.switch_page(PAGE).run()
    walk_strip = image_urls(app)[2]
    app.slider(key="explore.walk_steps").set_value(4).run()
    assert not app.exception
    assert image_urls(app)[2] != walk_strip
    assert any("Between them: 4 images" in c.value for c in app.caption)
    first_nine = int(np.flatnonzero(load_dataset("sample").test_labels == 9)[0])
    app.selectbox(key="explore.walk_to").set_value(first_nine).run()
    assert not app.exception and not app.error
    assert app.selectbox(key="explore.walk_to").value == first_nine
    assert all(s.help for s in app.selectbox)
