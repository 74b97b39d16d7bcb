"""The words of a run's progress on the Train page and in the sidebar."""

import numpy as np

from components.figures import Curve
from components.run_views import curves_version, progress_text, sidebar_progress_text
from components.state import Run
from core.runs.jobs import JobSnapshot


def _snapshot(status: str, step: int) -> JobSnapshot:
    return JobSnapshot(
        job_id=1, status=status, step=step, total_steps=350, epochs=10, step_losses=np.zeros(step),
        epoch_metrics=(), samples_per_s=1280.0, elapsed_s=5.0, eta_s=60.0, compile_s=1.0, message="",
    )  # fmt: skip


def test_the_sidebar_names_the_epoch_and_leaves_the_step_count_to_the_train_page():
    running = _snapshot("running", 72)  # 35 steps per epoch: step 72 is in epoch 3
    assert "step 72 of 350" in progress_text(running)
    assert sidebar_progress_text(running) == "Training: epoch 3 of 10 · about 1 min 00 s left"
    assert "step" not in sidebar_progress_text(running)
    finished = _snapshot("finished", 350)
    assert sidebar_progress_text(finished) == progress_text(finished)


def _curve(steps: int, epochs: int) -> Curve:
    return Curve(
        name="run 1", step_losses=np.ones(steps, np.float32), epoch_steps=[35 * (e + 1) for e in range(epochs)],
        test_losses=[0.5] * epochs, test_accuracies=[0.9] * epochs,
    )  # fmt: skip


def test_a_figure_is_made_again_when_its_curves_grew_and_only_then():
    run, other = Run(1, "a run", "sample"), Run(1, "another visitor's run 1", "sample")

    def version(curve: Curve, with_steps: bool, of: Run = run) -> tuple:
        return curves_version([of], [curve], with_steps=with_steps)

    before, one_more_step, one_more_epoch = _curve(70, 2), _curve(71, 2), _curve(105, 3)
    assert version(before, True) == version(_curve(70, 2), True)  # a rerun with nothing new: the same figure
    assert version(one_more_step, True) != version(before, True)  # every step is drawn: a new figure
    assert version(one_more_step, False) == version(before, False)  # per-epoch figures stay
    assert version(one_more_epoch, False) != version(before, False)
    assert version(before, True, of=other) != version(before, True)  # two visitors' "run 1" are not one
