"""The Variables page of a model that is not trained: flax's model.init values, compiled in the background."""

from threading import Event

from core import models
from core.spec import ModelSpec
from testkit.support import state


def test_a_new_shape_shows_a_notice_until_model_init_is_compiled_then_its_values(app, monkeypatch):
    spec = ModelSpec.mlp((131, 67, 29), seed=5)  # a shape no other test compiles
    release = Event()
    compile_for_real = models.compiled_init

    def slow_compile(shape):
        release.wait(60)  # the compile "takes" until the test says so
        return compile_for_real(shape)

    monkeypatch.setattr(models, "compiled_init", slow_compile)
    state(app).set_spec(spec)  # starts compiling in the background
    app.switch_page("pages/variables.py").run()
    assert not app.exception
    assert any("Computing `model.init` for this new shape" in i.value for i in app.info)
    assert not any("parameters** in" in m.value for m in app.markdown)  # no values yet, no frozen page

    release.set()
    models.prepare_init(spec).result(600)
    app.run()
    assert not app.exception
    assert any(f"**{spec.parameter_count:,} parameters** in 4 layers" in m.value for m in app.markdown)
    assert any("model.init(jax.random.key(5), x)" in i.value for i in app.info)
