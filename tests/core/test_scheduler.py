"""Trainings take turns (one compiled chunk at a time, round robin), and a presenter can pause, step and
change the learning rate of a running training. Fairness is counted in turns and steps, never in seconds."""

import threading
import time

import numpy as np
import pytest

from core.errors import ConfigError
from core.runs.jobs import TrainingJob
from core.runs.scheduler import JobControls, RoundRobin
from core.spec import ModelSpec
from core.training import TrainConfig, train
from core.training.optimizer import learning_rate
from core.training.programs import compiled_programs
from testkit.waits import joined, wait_for

SPEC = ModelSpec.mlp((32,))


def test_turns_go_round_robin_so_no_job_gets_two_turns_before_another_waiting_one_gets_one():
    rr = RoundRobin()
    order: list[int] = []
    ready = threading.Barrier(3)

    def job(me: int) -> None:
        ready.wait()
        for _ in range(30):
            with rr.turn(me):
                order.append(me)
                time.sleep(0.001)  # a chunk's work, while the others queue

    with rr.turn("first"):  # every job queues behind a turn that is already held
        threads = [threading.Thread(target=job, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        wait_for(lambda: rr.waiting == 3, "three jobs queued for a turn")
    for t in threads:
        joined(t, "a job's 30 turns")

    assert sorted(order) == sorted([0, 1, 2] * 30)
    for end in range(3, len(order) + 1):  # at every moment each job had its turns within one of the others
        counts = [order[:end].count(i) for i in range(3)]
        assert max(counts) - min(counts) <= 1, (end, counts)
    assert rr.turns == {0: 30, 1: 30, 2: 30, "first": 1}


def test_a_visitor_with_two_jobs_gets_the_share_of_one_visitor():
    """Visitor "a" runs a training and a sweep, visitor "b" one training: turns alternate a, b, a, b,
    and a's two jobs share a's turns, so one visitor cannot take two shares of the machine."""
    rr = RoundRobin()
    order: list[str] = []
    ready = threading.Barrier(3)

    def job(me: str, owner: str) -> None:
        ready.wait()
        for _ in range(20):
            with rr.turn(me, owner):
                order.append(me)
                time.sleep(0.001)

    with rr.turn("first"):
        threads = [threading.Thread(target=job, args=args) for args in (("a1", "a"), ("a2", "a"), ("b1", "b"))]
        for t in threads:
            t.start()
        wait_for(lambda: rr.waiting == 3, "three jobs queued for a turn")
    for t in threads:
        joined(t, "a job's 20 turns")

    last_b = max(i for i, name in enumerate(order) if name == "b1")
    busy = order[: last_b + 1]  # while b still had turns to take
    for end in range(2, len(busy) + 1):  # at every moment a's two jobs together had b's turns, within one
        a_turns = busy[:end].count("a1") + busy[:end].count("a2")
        assert abs(a_turns - busy[:end].count("b1")) <= 1, busy[:end]
    assert abs(busy.count("a1") - busy.count("a2")) <= 1  # and a's jobs share a's turns evenly


def started_paused(dataset, config: TrainConfig) -> TrainingJob:
    job = TrainingJob(SPEC, config, dataset)
    job.controls.pause()
    return job.start()


def test_a_paused_run_steps_exactly_n_steps_at_a_time_then_resumes_to_the_same_model(small):
    config = TrainConfig(epochs=2, batch_size=64)  # 16 steps per epoch
    job = started_paused(small, config)
    # holding: paused, and the engine waits for Resume or Step, so the step count stands still
    wait_for(lambda: job.controls.holding, "the paused job to hold before its first step")
    assert job.snapshot().step == 0 and job.snapshot().paused

    job.controls.step(5)
    wait_for(lambda: job.snapshot().step == 5 and job.controls.holding, "5 steps, then holding")
    assert job.snapshot().step == 5 and job.snapshot().paused  # and stays there
    job.controls.step(14)  # across the end of the first epoch: its evaluation still happens
    wait_for(lambda: job.snapshot().step == 19 and job.controls.holding, "14 more steps, then holding")
    assert [m.epoch for m in job.snapshot().epoch_metrics] == [1]
    job.controls.resume()
    joined(job)

    reference = train(SPEC, config, small)
    assert job.result.status == "finished" and job.result.steps == 32
    np.testing.assert_allclose(job.result.history.step_losses, reference.history.step_losses, rtol=1e-5)


def test_a_paused_run_can_be_stopped(small):
    job = started_paused(small, TrainConfig(epochs=2, batch_size=64))
    job.stop()
    joined(job)
    assert job.result.status == "stopped" and job.result.steps == 0


def test_a_new_learning_rate_takes_effect_at_the_next_chunk_without_a_new_program(small):
    config = TrainConfig(epochs=2, batch_size=64, learning_rate=0.001)
    reference = train(SPEC, config, small)  # compiles the step and the evaluation of this model
    programs = compiled_programs("train")
    job = started_paused(small, config)
    job.controls.step(4)
    wait_for(lambda: job.snapshot().step == 4 and job.controls.holding, "4 steps, then holding")

    job.controls.set_learning_rate(0.05)
    job.controls.resume()
    joined(job)

    assert compiled_programs("train") == programs  # the same compiled step, the rate is data
    result = job.result
    assert result.extra["learning_rate_changes"] == [[4, 0.05]]
    assert job.snapshot().learning_rate_changes == ((4, 0.05),)
    assert learning_rate(result.opt_state) == pytest.approx(0.05)
    assert result.config.learning_rate == 0.05  # continuing it goes on at the new rate
    np.testing.assert_allclose(result.history.step_losses[:5], reference.history.step_losses[:5], rtol=1e-5)
    # step 5 is the first with the new rate: a 50x bigger nudge makes a different loss from there on
    assert not np.allclose(result.history.step_losses[5:8], reference.history.step_losses[5:8], rtol=1e-3)


def test_controls_refuse_impossible_values_with_a_clear_reason():
    controls = JobControls(threading.Event(), RoundRobin())
    with pytest.raises(ConfigError, match="at least 1 step"):
        controls.step(0)
    with pytest.raises(ConfigError, match="above 0"):
        controls.set_learning_rate(0.0)
