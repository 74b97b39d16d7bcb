"""A presenter pauses a running training, steps it a few steps at a time and changes its learning rate
without a restart; the loss curve marks the step where the rate changed."""

import json
import time

from testkit.support import button, state, text_input


def wait_until(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


def test_pause_step_and_a_new_learning_rate_from_the_train_page(app):
    app.switch_page("pages/train.py").run()
    app.number_input(key="train.epochs").set_value(200)  # 7,000 steps of the sample: it runs until stopped
    button(app, "Start training").click().run()
    job = state(app).active_run.job
    button(app, "Pause").click().run()
    assert not app.exception
    wait_until(lambda: job.controls.holding)
    app.run()
    assert button(app, "Resume") and "Paused" in app.info[-1].value
    paused_at = job.snapshot().step

    app.number_input(key="train.step_count").set_value(7)
    button(app, "Step").click().run()
    wait_until(lambda: job.controls.holding and job.snapshot().step > paused_at)
    assert job.snapshot().step == paused_at + 7  # exactly the steps asked for, then paused again

    text_input(app, "New learning rate").input("1e9")
    button(app, "Apply").click().run()
    assert "Learning rate not changed: learning rate must be above 0" in app.error[0].value
    text_input(app, "New learning rate").input("0.01")
    button(app, "Apply").click().run()
    button(app, "Resume").click().run()
    assert not app.exception
    wait_until(lambda: job.snapshot().learning_rate_changes)
    job.stop()
    assert job.join(60)
    app.run()

    assert job.result.extra["learning_rate_changes"] == [[paused_at + 7, 0.01]]
    lines = json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]["shapes"]
    assert [line["x0"] for line in lines] == [paused_at + 7]
