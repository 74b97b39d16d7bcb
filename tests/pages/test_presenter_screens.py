"""Issue 15, server-side points: what the pages say while a run trains, after an edit, and in plain words."""

from __future__ import annotations

import pytest

from testkit.support import button, open_variables, state, wait_for_training


def _sidebar_links(at) -> list[str]:
    return [link.label for link in at.sidebar.get("page_link")]


def _start(at, epochs: int) -> None:
    at.switch_page("pages/train.py").run()
    at.number_input(key="train.epochs").set_value(epochs)
    button(at, "Start training").click().run()
    assert not at.exception


def test_a_new_run_of_a_trained_model_keeps_the_trained_one_on_results_and_the_path(app):
    _start(app, 1)
    wait_for_training(app)
    first = state(app).runs[0]
    assert first.status == "finished"
    _start(app, 200)
    second = state(app).runs[1]
    assert second.active and state(app).selected_run_id == second.run_id
    try:
        app.switch_page("pages/results.py").run()
        assert not app.exception
        assert not any("has not been trained" in i.value for i in app.info)
        assert any(f"Run {first.run_id} on" in c.value for c in app.caption)
        assert not any("2. Train it** ← next" in label for label in _sidebar_links(app))
        assert any("3. See what it learned" in label for label in _sidebar_links(app))
    finally:
        second.job.stop()
        wait_for_training(app)


def test_the_sidebar_shows_a_width_edit_in_the_same_rerun(app):
    app.number_input(key="build.hidden.0.width.v0").set_value(64).run()
    assert not app.exception
    sidebar_text = [m.value for m in app.sidebar.markdown]
    assert any("MLP 784-64-256-10" in m for m in sidebar_text), sidebar_text
    assert any(f"{785 * 64 + 65 * 256 + 257 * 10:,} parameters" in c.value for c in app.sidebar.caption)
    app.selectbox(key="build.hidden.1.activation.v0").set_value("tanh").run()
    assert state(app).spec.hidden[1].activation == "tanh"


def test_start_is_disabled_while_a_run_trains(app):
    _start(app, 200)
    run = state(app).runs[0]
    try:
        assert button(app, "Start training").disabled
    finally:
        run.job.stop()
        wait_for_training(app)
    assert not button(app, "Start training").disabled


def test_presenter_mode_hides_the_sweep_seeds_and_batch_size_and_keeps_their_defaults(app):
    app.switch_page("pages/sweep.py").run()
    assert {"sweep.seeds", "sweep.batch_size"} <= {w.key for w in [*app.text_input, *app.number_input]}
    app.sidebar.toggle(key="sidebar.presenter").set_value(True).run()
    assert not app.exception
    keys = {w.key for w in [*app.text_input, *app.number_input]}
    assert "sweep.widths" in keys and not keys & {"sweep.seeds", "sweep.batch_size"}
    # the defaults still make the plan, in words that name no hidden setting (issue 30)
    assert "**24 models** (8 widths × 3 random starts each)" in app.info[0].value


def test_run_numbers_count_per_visitor_and_caches_still_tell_runs_apart(app):
    from streamlit.testing.v1 import AppTest

    from tests.pages.conftest import ROOT

    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    other.run()
    mine = [state(app).add_run(f"mine {i}", "sample") for i in range(3)]
    theirs = state(other).add_run("theirs", "sample")
    assert [r.run_id for r in mine] == [1, 2, 3] and theirs.run_id == 1  # a visitor's first run is run 1
    assert len({r.cache_id for r in [*mine, theirs]}) == 4  # the shared test-output cache never mixes them


def test_build_is_ticked_only_after_a_real_edit(app):
    assert "Build" in state(app).visited
    assert any("**1. Build a model** ← next" in label for label in _sidebar_links(app))
    app.number_input(key="build.hidden.0.width.v0").set_value(128).run()
    assert "1. Build a model" in _sidebar_links(app)
    assert any("**2. Train it** ← next" in label for label in _sidebar_links(app))


def test_the_variables_tab_and_the_typed_widths_box_stay_open(app):
    from testkit.support import open_tab, text_input

    open_variables(app)
    open_tab(app, "variables.tab", "Table of every array")
    assert app.dataframe
    app.switch_page("pages/build.py").run()
    assert any("press Enter or click elsewhere" in c.value for c in app.caption)  # how a typed width applies
    expander = next(e for e in app.expander if e.label == "Type the widths instead")
    assert not expander.proto.expanded
    text_input(app, "Hidden widths").set_value("64, 32")
    button(app, "Apply widths").click().run()
    assert [layer.width for layer in state(app).spec.hidden] == [64, 32]
    assert next(e for e in app.expander if e.label == "Type the widths instead").proto.expanded
    open_variables(app)
    table = app.dataframe[0].value  # still the table tab, now of the new model
    assert table["parameters"].sum() == 785 * 64 + 65 * 32 + 33 * 10


def test_the_draw_page_asks_for_what_the_data_holds(app, tmp_path, sample):
    from core.data.idx import export_idx

    app.switch_page("pages/draw.py").run()
    assert app.title[0].value.endswith("Draw a digit")
    folder = tmp_path / "fashion"  # an IDX folder named fashion holds Fashion-MNIST's classes
    export_idx(folder, "train", sample.train_images[:200], sample.train_labels[:200])
    export_idx(folder, "t10k", sample.test_images[:50], sample.test_labels[:50])
    state(app).dataset_name = f"idx:{folder}"
    app.run()
    assert not app.exception
    assert app.title[0].value.endswith("Draw a piece of clothing")
    assert any("piece of clothing" in c.value for c in app.caption)


def test_each_result_image_carries_its_own_answer(app):
    from core.data import load_dataset
    from core.spec import ModelSpec
    from core.training import TrainConfig, train
    from testkit.support import select_trained

    sample = load_dataset("sample")
    result = train(ModelSpec.mlp((32,)), TrainConfig(epochs=1), sample)
    select_trained(app, result)
    app.switch_page("pages/results.py").run()
    assert not app.exception
    answers = [c.value for c in app.caption if c.value.startswith((":green[", ":red["))]
    assert len(answers) == 12
    # one image per answer (not one strip above a list of answers), then the most confused square's
    # images and the image in detail
    assert len(app.get("image")) == 12 + 2


@pytest.mark.parametrize("page", ["pages/build.py", "pages/train.py", "pages/sweep.py", "pages/variables.py"])
def test_presenter_mode_explains_every_glossary_word_its_page_shows(app, page):
    """Issue 30: every jargon word a presenter's audience meets has its plain meaning at hand."""
    from core.glossary import GLOSSARY, terms_in
    from testkit.support import page_texts

    app.sidebar.toggle(key="sidebar.presenter").set_value(True).run()
    app.switch_page(page).run()
    assert not app.exception
    [words] = [e for e in app.sidebar.expander if e.label == "Words on this page"]
    explained = [m.value for m in words.markdown]
    listed = {term for term in GLOSSARY if f"**{term}**:" in " ".join(explained)}
    markdown, typed = page_texts(app)
    shown = " ".join(t for t in [*markdown, *typed] if t not in explained)
    assert set(terms_in(shown)) <= listed, set(terms_in(shown)) - listed
    if page == "pages/build.py":  # one plain sentence first says what the tool does
        assert "This tool lets you build a small neural network" in app.markdown[0].value
