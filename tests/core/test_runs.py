import threading
import time

import numpy as np
import pytest

from core.data import Dataset
from core.errors import ConfigError
from core.runs import jobs as runs
from core.runs.jobs import TrainingJob
from core.runs.slots import SLOTS
from core.spec import ModelSpec
from core.training import TrainConfig
from testkit.trees import array_bytes
from testkit.waits import HANG_S, joined, wait_for

SPEC = ModelSpec.mlp((64,))


def test_job_trains_in_the_background_and_reports(small):
    finished = []
    job = TrainingJob(SPEC, TrainConfig(epochs=3), small, on_done=finished.append).start()
    joined(job)
    snap = job.snapshot()
    assert snap.status == "finished" and not snap.active
    assert snap.step == snap.total_steps == 3 * 8
    assert snap.progress == 1.0
    assert len(snap.step_losses) == 24 and [m.epoch for m in snap.epoch_metrics] == [1, 2, 3]
    np.testing.assert_allclose(snap.step_losses, job.result.history.step_losses)
    assert finished == [job]


def test_a_job_shows_its_latest_variables_while_it_trains(small):
    """Live views read the model as it learns: the parameters of the engine's last report."""
    from core.models import init_params
    from core.training import Phase, train

    reported = []
    result = train(SPEC, TrainConfig(epochs=2), small, on_progress=reported.append)
    training = [p for p in reported if p.phase == Phase.TRAINING and p.variables is not None]
    assert training, "the engine reports its parameters while it trains"
    first = np.asarray(training[0].variables["params"]["Dense_0"]["kernel"][0])
    assert not np.allclose(first, np.asarray(init_params(SPEC)["Dense_0"]["kernel"]))  # already trained a little
    np.testing.assert_array_equal(np.asarray(training[-1].variables["params"]["Dense_0"]["kernel"][0]),
                                  np.asarray(result.params["Dense_0"]["kernel"]))  # fmt: skip
    job = TrainingJob(SPEC, TrainConfig(epochs=2), small)
    assert job.latest_variables() is None  # nothing trained yet
    joined(job.start())
    np.testing.assert_array_equal(
        job.latest_variables()["params"]["Dense_1"]["bias"], job.result.params["Dense_1"]["bias"]
    )


def test_a_finished_job_holds_its_model_once(small):
    """The last report's stacked copy of the parameters goes once the result has them: a finished job
    held its model twice (7,454,760 bytes of a 784-1024-1024-10 MLP held as 14,909,520)."""
    job = TrainingJob(SPEC, TrainConfig(epochs=1), small)
    joined(job.start())
    params_bytes = (784 * 64 + 64 + 64 * 10 + 10) * 4
    adam_bytes = 2 * params_bytes + 7 * 4  # two moments per parameter; two step counts and five hyperparameters
    assert array_bytes(job, skip=(Dataset,)) == params_bytes + adam_bytes


def test_stop_ends_the_job_within_its_current_chunk_and_keeps_the_partial_model(sample):
    job = TrainingJob(ModelSpec.mlp((256,)), TrainConfig(epochs=500), sample).start()
    wait_for(lambda: job.snapshot().step >= 40, "40 steps of training")
    job.stop()
    at_stop = job.snapshot().step  # read after the stop: every step counted here was trained before or during it
    joined(job)
    snap = job.snapshot()
    assert snap.status == "stopped" and 40 <= at_stop <= snap.step < snap.total_steps
    # a chunk never crosses an epoch's end: at most the rest of one epoch of 35 steps (4,500 // 128)
    assert snap.step - at_stop <= 35
    assert job.result.steps == snap.step and len(job.result.history.step_losses) == snap.step


def test_jobs_beyond_the_limit_wait_in_a_queue(sample, one_slot):
    first = TrainingJob(ModelSpec.mlp((256,)), TrainConfig(epochs=500), sample).start()
    wait_for(lambda: SLOTS.holds(first), "the first job to take the only slot")
    second = TrainingJob(SPEC, TrainConfig(epochs=1), sample).start()
    wait_for(lambda: SLOTS.waiting == 1, "the second job to wait for a slot")
    assert second.snapshot().status == "queued"
    assert "at most 1 trainings run at once" in second.snapshot().message
    first.stop()
    joined(first)
    joined(second)
    assert second.snapshot().status == "finished"


def test_a_queued_job_can_be_stopped_before_it_starts(sample, one_slot):
    first = TrainingJob(ModelSpec.mlp((256,)), TrainConfig(epochs=500), sample).start()
    wait_for(lambda: SLOTS.holds(first), "the first job to take the only slot")
    second = TrainingJob(SPEC, TrainConfig(epochs=1), sample).start()
    second.stop()
    joined(second)
    assert second.snapshot().status == "stopped" and second.result is None
    first.stop()
    joined(first)


def test_divergence_is_reported_with_its_reason(small):
    job = TrainingJob(SPEC, TrainConfig(optimizer="sgd", learning_rate=1e6, epochs=2), small).start()
    joined(job)
    snap = job.snapshot()
    assert snap.status == "diverged" and "learning rate" in snap.message
    assert np.all(np.isfinite(snap.step_losses))


def test_batch_too_large_fails_before_starting(small):
    with pytest.raises(ConfigError, match="larger than the 1,024 training images"):
        TrainingJob(SPEC, TrainConfig(batch_size=5000), small)


def test_stop_all_ends_every_live_job(sample):
    jobs = [TrainingJob(ModelSpec.mlp((128,)), TrainConfig(epochs=500), sample).start() for _ in range(2)]
    runs.stop_all(timeout=HANG_S)  # a job still compiling its step stops once the compile ends
    assert all(not job.alive for job in jobs)
    assert {job.snapshot().status for job in jobs} <= {"stopped"}


class SteppedClock:
    """The watchdog's clock and pause, moved by the test: a pause lasts until ``step()``, after which
    the clock has moved on by the pause's length. No real time is measured, so a loaded machine
    cannot make the grace period look shorter or longer than it is."""

    def __init__(self) -> None:
        self.now = 0.0
        self._paused = threading.Semaphore(0)
        self._resume = threading.Semaphore(0)

    def time(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self._paused.release()
        self._resume.acquire()
        self.now += seconds

    def wait_for_pause(self, job: TrainingJob) -> bool:
        """True once the watchdog pauses (it goes on watching); False when the job has ended instead."""
        deadline = time.monotonic() + HANG_S  # only against a hang: nothing below depends on real time
        while not self._paused.acquire(timeout=0.05):
            if not job.alive:
                return False
            assert time.monotonic() < deadline, "the watchdog neither paused nor ended the job"
        return True

    def step(self, job: TrainingJob) -> bool:
        """End the current pause: the watchdog looks at the visitor once more at ``now + pause``."""
        self._resume.release()
        return self.wait_for_pause(job)


@pytest.fixture
def watched(sample):
    """A long training watched with a stepped clock (grace 8 s, a look every 1 s); ``visitor`` is its tab."""
    clock, visitor = SteppedClock(), {"here": True}
    job = TrainingJob(
        ModelSpec.mlp((256,)), TrainConfig(epochs=500), sample,
        keep_alive=lambda: visitor["here"], grace_s=8, clock=clock.time, pause=clock.pause,
    ).start()  # fmt: skip
    assert clock.wait_for_pause(job)  # the first look (at 0 s): the visitor is here
    wait_for(lambda: job.snapshot().step > 0, "the watched job's first step")
    yield job, clock, visitor
    job.stop()
    for _ in range(3):
        clock._resume.release()  # never leave the watchdog waiting on a test that ended early
    joined(job)


def _abandoned_and_kept(job: TrainingJob) -> None:
    joined(job)
    snap = job.snapshot()
    assert job.abandoned and snap.status == "stopped"
    assert job.result.reason == "stopped because the browser tab that started it was closed"
    assert 0 < job.result.steps == snap.step < snap.total_steps


def test_a_job_outlives_its_visitor_by_the_grace_period_then_stops(watched):
    job, clock, visitor = watched
    visitor["here"] = False
    # looks at 1 s (first seen gone) ... 8 s (gone 7 s): within the grace of 8 s, training goes on
    for second in range(1, 9):
        assert clock.step(job), f"stopped {second - 1} s after the visitor was first seen gone"
        assert clock.now == second and job.alive and not job.abandoned
    assert not clock.step(job)  # the look at 9 s: gone 8 s, the grace is over
    assert clock.now == 9
    _abandoned_and_kept(job)


def test_a_visitor_back_within_the_grace_period_starts_it_again(watched):
    job, clock, visitor = watched
    visitor["here"] = False
    for _ in range(5):  # gone from 1 s to 5 s
        assert clock.step(job)
    visitor["here"] = True
    assert clock.step(job)  # back at 6 s
    visitor["here"] = False
    for second in range(7, 15):  # gone again from 7 s: a full new grace of 8 s, not what is left of the first
        assert clock.step(job), f"stopped at {second} s, {second - 7} s after the visitor left again"
        assert job.alive and not job.abandoned
    assert not clock.step(job)  # 15 s: gone 8 s since 7 s
    assert clock.now == 15
    _abandoned_and_kept(job)


def test_with_the_real_clock_a_job_stops_when_its_visitor_is_gone(sample):
    alive = {"tab": True}
    job = TrainingJob(
        ModelSpec.mlp((256,)), TrainConfig(epochs=500), sample, keep_alive=lambda: alive["tab"], grace_s=0.5
    ).start()
    wait_for(lambda: job.snapshot().step > 0, "the job's first step")
    alive["tab"] = False
    joined(job)
    _abandoned_and_kept(job)


def test_a_sweep_estimate_sees_the_trainings_taking_turns_but_not_paused_or_ended_ones(sample):
    job = TrainingJob(SPEC, TrainConfig(epochs=1000), sample, owner="ann").start()
    try:
        wait_for(lambda: job.controls.turns >= 3 and job.compute_left_s is not None, "three turns of training")
        (other,) = runs.running_trainings()
        assert other.owner == "ann" and other.turn_s > 0  # its turns so far, on average
        assert other.left_s is not None and other.left_s > 0  # the engine's estimate of its compute left
        job.controls.pause()
        wait_for(lambda: job.controls.holding, "the job to pause")
        assert runs.running_trainings() == []  # paused: it takes no turns
        job.controls.resume()
        assert len(runs.running_trainings()) == 1
    finally:
        job.stop()
    joined(job)
    assert runs.running_trainings() == []


def test_a_continued_job_lists_its_earlier_epochs_while_it_trains_and_saves_them(tmp_path, sample):
    """Continuing a run of 1 epoch to 3: while epoch 3 trains, the live epoch list is 1, 2 (not 2 alone,
    from zero), and the save made meanwhile keeps epoch 1 and its steps."""
    from core.runs import store
    from core.training import train

    spec = ModelSpec.mlp((16,))
    first = train(spec, TrainConfig(epochs=1), sample)  # 35 steps (4,500 // 128)
    saves = store.RunningSave(tmp_path, interval_s=0)
    job = TrainingJob(spec, TrainConfig(epochs=3), sample, resume=first, checkpoints=saves)
    job.controls.step(35 + 1)  # epoch 2, its test and one step of epoch 3, then it holds
    job.start()
    try:
        wait_for(lambda: job.controls.holding, "the continued job to hold after its steps")
        snap = job.snapshot()
        assert snap.step == 71 and snap.active
        assert [m.epoch for m in snap.epoch_metrics] == [1, 2]
        assert snap.epoch_metrics[0] == first.history.epochs[0]
        assert saves.wait_written(HANG_S), "the save made while it trained was not written"
        [during] = store.list_runs(tmp_path)
        assert during.in_progress and during.summary["epochs_done"] == 2
        saved = during.load()
        assert [m.epoch for m in saved.history.epochs] == [1, 2] and saved.steps == 70
        assert saved.history.step_losses[:35] == first.history.step_losses
    finally:
        job.stop()
        joined(job)
        saves.close()
    assert [m.epoch for m in job.snapshot().epoch_metrics] == [1, 2]  # stopped in epoch 3


def test_the_time_left_is_the_images_left_at_the_speed_shown_beside_it(sample):
    """Issue 30: "15 s left" at step 1,110 of 2,800 beside 3,462 images/s, whose own arithmetic says 62 s."""
    config = TrainConfig(epochs=200)
    job = TrainingJob(SPEC, config, sample).start()
    try:
        reads = []
        while len(reads) < 3:
            wait_for(lambda: job.snapshot().eta_s is not None and job.snapshot().step > 0, "a time left is shown")
            snap = job.snapshot()
            if snap.status == "running":
                reads.append(snap)
            time.sleep(0.3)  # a few reads of the page, apart
        for snap in reads:
            images_left = (snap.total_steps - snap.step) * config.batch_size
            assert snap.eta_s * snap.samples_per_s == pytest.approx(images_left, rel=0.02), snap
    finally:
        job.stop()
        joined(job)


def test_a_visitors_own_sweep_is_not_counted_as_another_training_beside_it(sample):
    """Issue 30: while a visitor's sweep ran, its page said "1 other training running now"."""
    job = TrainingJob(SPEC, TrainConfig(epochs=200), sample).start()
    try:
        wait_for(lambda: job.sharing() is not None, "the job takes turns")
        assert any(o.owner is job.controls for o in runs.running_trainings())
        assert not any(o.owner is job.controls for o in runs.running_trainings(excluding=job))
    finally:
        job.stop()
        joined(job)
