"""The Train page's overfitting lab: part of the images, L2 and noise reach the run; train against test is drawn
with the gap shaded and said in numbers; bad values are refused in words."""

from __future__ import annotations

import json

import pytest

from testkit.support import button, shown, state, wait_for_training


def test_five_percent_with_l2_and_noise_trains_and_draws_the_gap(app):
    app.switch_page("pages/train.py").run()
    app.number_input(key="train.epochs").set_value(3)
    fraction = app.selectbox(key="train.fraction")
    assert "225 of 4,500 images (5%)" in fraction.options  # the share in plain words
    fraction.set_value(0.05)
    app.text_input(key="train.l2").set_value("0.001")
    app.text_input(key="train.noise").set_value("0.1")
    button(app, "Start training").click().run()
    wait_for_training(app)
    assert not app.exception
    run = state(app).runs[0]
    assert run.status == "finished"
    assert (run.config.train_fraction, run.config.l2, run.config.noise) == (0.05, 0.001, 0.1)
    assert run.result.steps == 3 * (225 // 128)
    gap = next(
        json.loads(c.proto.spec) for c in app.get("plotly_chart") if "tonexty" in c.proto.spec
    )  # the train-against-test figure: the test line fills down to the train line
    names = {trace["name"] for trace in gap["data"]}
    assert names == {"train images", "test images"} and len(gap["data"]) == 4  # loss and accuracy side by side
    words = next(c.value for c in app.caption if c.value.startswith("Training on"))
    last = run.result.history.epochs[-1]
    assert words.startswith("Training on 225 of 4,500 images (5%). Solid: the model on all 225 training images")
    assert f"a gap of {last.accuracy_gap * 100:.1f} percentage points" in words


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("l2", "lots", "L2 penalty must be a number, got 'lots'"),
        ("l2", "5", "L2 penalty must be between 0 and 1, got 5"),
        ("noise", "-1", "input noise must be between 0 and 1, got -1"),
    ],
)
def test_bad_l2_or_noise_is_refused_in_words(app, key, value, words):
    app.switch_page("pages/train.py").run()
    app.text_input(key=f"train.{key}").set_value(value)
    button(app, "Start training").click().run()
    assert not app.exception
    assert any(words in shown(e.value) for e in app.error), [e.value for e in app.error]
    assert state(app).runs == []
