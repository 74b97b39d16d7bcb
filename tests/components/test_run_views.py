"""The words of a run's progress on the Train page and in the sidebar."""

import numpy as np

from components.run_views import progress_text, sidebar_progress_text
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
