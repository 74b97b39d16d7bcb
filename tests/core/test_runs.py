import time

import numpy as np
import pytest

from core.errors import ConfigError
from core.runs import jobs as runs
from core.runs.jobs import TrainingJob
from core.spec import ModelSpec
from core.training import TrainConfig

SPEC = ModelSpec.mlp((64,))


def test_job_trains_in_the_background_and_reports(small):
    finished = []
    job = TrainingJob(SPEC, TrainConfig(epochs=3), small, on_done=finished.append).start()
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status == "finished" and not snap.active
    assert snap.step == snap.total_steps == 3 * 8
    assert snap.progress == 1.0
    assert len(snap.step_losses) == 24 and [m.epoch for m in snap.epoch_metrics] == [1, 2, 3]
    np.testing.assert_allclose(snap.step_losses, job.result.history.step_losses)
    assert finished == [job]


def test_stop_keeps_the_partial_model(sample):
    job = TrainingJob(ModelSpec.mlp((256,)), TrainConfig(epochs=500), sample).start()
    deadline = time.monotonic() + 60
    while job.snapshot().step < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    tic = time.monotonic()
    job.stop()
    assert job.join(5)
    assert time.monotonic() - tic < 1.0
    snap = job.snapshot()
    assert snap.status == "stopped" and 40 <= snap.step < snap.total_steps
    assert job.result.steps == snap.step


def test_jobs_beyond_the_limit_wait_in_a_queue(sample, one_slot):
    first = TrainingJob(ModelSpec.mlp((256,)), TrainConfig(epochs=500), sample).start()
    second = TrainingJob(SPEC, TrainConfig(epochs=1), sample).start()
    time.sleep(0.5)
    assert second.snapshot().status == "queued"
    assert "1 trainings may run at once" in second.snapshot().message
    first.stop()
    assert first.join(10) and second.join(60)
    assert second.snapshot().status == "finished"


def test_a_queued_job_can_be_stopped_before_it_starts(sample, one_slot):
    first = TrainingJob(ModelSpec.mlp((256,)), TrainConfig(epochs=500), sample).start()
    second = TrainingJob(SPEC, TrainConfig(epochs=1), sample).start()
    second.stop()
    assert second.join(5)
    assert second.snapshot().status == "stopped" and second.result is None
    first.stop()
    assert first.join(10)


def test_divergence_is_reported_with_its_reason(small):
    job = TrainingJob(SPEC, TrainConfig(optimizer="sgd", learning_rate=1e6, epochs=2), small).start()
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status == "diverged" and "learning rate" in snap.message
    assert np.all(np.isfinite(snap.step_losses))


def test_batch_too_large_fails_before_starting(small):
    with pytest.raises(ConfigError, match="larger than the 1,024 training images"):
        TrainingJob(SPEC, TrainConfig(batch_size=5000), small)


def test_stop_all_ends_every_live_job(sample):
    jobs = [TrainingJob(ModelSpec.mlp((128,)), TrainConfig(epochs=500), sample).start() for _ in range(2)]
    runs.stop_all(timeout=10)
    assert all(not job.alive for job in jobs)
    assert {job.snapshot().status for job in jobs} <= {"stopped"}


def test_a_job_stops_when_its_visitor_is_gone(sample):
    alive = {"tab": True}
    job = TrainingJob(
        ModelSpec.mlp((256,)), TrainConfig(epochs=500), sample, keep_alive=lambda: alive["tab"], grace_s=0.5
    ).start()
    deadline = time.monotonic() + 60
    while job.snapshot().step == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    alive["tab"] = False
    assert job.join(5)
    assert job.abandoned and job.snapshot().status == "stopped"
    assert "browser tab" in job.result.reason
    assert job.result.steps > 0


def test_a_short_disconnect_does_not_stop_the_job(small):
    blips = iter([False, False] + [True] * 10_000)
    job = TrainingJob(SPEC, TrainConfig(epochs=20), small, keep_alive=lambda: next(blips), grace_s=3).start()
    assert job.join(60)
    assert job.snapshot().status == "finished" and not job.abandoned
