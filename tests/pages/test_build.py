import pytest

from core.spec import ModelSpec
from testkit.support import button, metric, state, text_input


def test_fresh_session_shows_the_default_mlp(app):
    assert metric(app, "Parameters") == "535,818"
    assert [n.value for n in app.number_input][:2] == [512, 256]
    assert app.get("plotly_chart")  # the stack diagram
    assert any("MLP 784-512-256-10" in m.value for m in app.sidebar.markdown)


def test_changing_a_width_updates_the_count_at_once(app):
    app.number_input(key="build.hidden.0.width.v0").set_value(100).run()
    assert not app.exception
    assert state(app).spec == ModelSpec.mlp((100, 256))
    assert metric(app, "Parameters") == f"{785 * 100 + 101 * 256 + 257 * 10:,}"


@pytest.mark.parametrize(("value", "words"), [(0, "got 0"), (-5, "got -5"), (5000, "4,096")])
def test_invalid_width_is_refused_with_the_reason(app, value, words):
    app.number_input(key="build.hidden.1.width.v0").set_value(value).run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert any("Not applied" in e and words in e for e in errors), errors
    assert state(app).spec == ModelSpec.mlp((512, 256))  # unchanged
    assert metric(app, "Parameters") == "535,818"


def test_add_move_and_remove_layers(app):
    app.button(key="build.hidden.add.v0").click().run()
    spec = state(app).spec
    assert [layer.width for layer in spec.hidden] == [512, 256, 128]
    v = state(app).build.editor_version
    app.button(key=f"build.hidden.2.up.v{v}").click().run()
    assert [layer.width for layer in state(app).spec.hidden] == [512, 128, 256]
    v = state(app).build.editor_version
    app.button(key=f"build.hidden.0.remove.v{v}").click().run()
    assert [layer.width for layer in state(app).spec.hidden] == [128, 256]
    assert not app.exception


def test_removing_the_last_layer_is_refused(app):
    app.button(key="build.hidden.1.remove.v0").click().run()
    v = state(app).build.editor_version
    app.button(key=f"build.hidden.0.remove.v{v}").click().run()
    assert [layer.width for layer in state(app).spec.hidden] == [512]
    assert any("at least one layer" in e.value for e in app.error)


def test_activation_change(app):
    app.selectbox(key="build.hidden.0.activation.v0").set_value("tanh").run()
    assert state(app).spec.hidden[0].activation == "tanh"


def test_switch_to_autoencoder_and_use_a_preset(app):
    app.get("button_group")[0].set_value("autoencoder").run()
    assert not app.exception
    assert state(app).spec.kind == "autoencoder"
    assert metric(app, "Parameters") == "437,664"
    app.selectbox(key="build.preset.autoencoder").set_value("2-D latent autoencoder").run()
    app.button(key="build.use_preset").click().run()
    assert state(app).spec.code_size == 2
    # the MLP being edited is remembered when switching back
    v = state(app).build.editor_version
    app.get("button_group")[0].set_value("mlp").run()
    assert state(app).spec == ModelSpec.mlp((512, 256)), v


@pytest.mark.parametrize(
    ("text", "words"),
    [("abc", "whole number"), ("", "at least one layer"), ("3.5", "whole number"), ("1e9", "1,000,000,000")],
)
def test_typed_widths_are_validated(app, text, words):
    v = state(app).build.editor_version
    text_input(app, "Hidden widths").set_value(text)
    button(app, "Apply widths").click().run()
    assert not app.exception
    assert any(words in e.value for e in app.error), [e.value for e in app.error]
    assert state(app).spec == ModelSpec.mlp((512, 256)) and state(app).build.editor_version == v


def test_typed_widths_apply(app):
    text_input(app, "Hidden widths").set_value("64, 32, 16")
    button(app, "Apply widths").click().run()
    assert [layer.width for layer in state(app).spec.hidden] == [64, 32, 16]
