"""Training slots are shared fairly between visitors: a free slot goes to the visitor holding the fewest, and a
visitor holding two gives one back, between two chunks, when a visitor with none waits. The job that gave its
slot back goes on exactly where it stopped. Counted in slots, turns and steps, never in seconds."""

import threading

import jax
import numpy as np

from core.runs.jobs import GAVE_BACK_MESSAGE, SLOTS, TrainingJob
from core.runs.slots import Slots
from core.runs.sweep_job import SweepJob
from core.spec import ModelSpec
from core.training import TrainConfig, steps_per_epoch, train
from core.training.sweep import SweepPlan
from testkit.waits import joined, wait_for

SPEC = ModelSpec.mlp((32,))
LONG = ModelSpec.mlp((256,)), TrainConfig(epochs=500)  # on the sample: runs until stopped


def test_a_free_slot_goes_to_the_visitor_holding_fewest_then_served_longest_ago_then_first_come():
    slots = Slots(2)
    slots.ask("a1", "A")
    slots.ask("a2", "A")  # nobody else waits: a visitor's second job gets the free slot
    assert slots.holds("a1") and slots.holds("a2")
    for job, owner in [("a3", "A"), ("b1", "B"), ("c1", "C"), ("b2", "B")]:
        slots.ask(job, owner)
        assert not slots.holds(job)

    admitted = []
    for ending in ["a1", "a2", "b1", "c1"]:
        holding = {job for job in ["a3", "b1", "c1", "b2"] if slots.holds(job)}
        slots.release(ending)
        (new,) = {job for job in ["a3", "b1", "c1", "b2"] if slots.holds(job)} - holding
        admitted.append(new)
    # a1 ends: B and C hold none and were never served, B came first | a2 ends: A and C hold none, C was
    # never served | b1 ends: A and B hold none, A was served longest ago | c1 ends: b2, the last one waiting
    assert admitted == ["b1", "c1", "a3", "b2"]
    assert slots.running == 2 and slots.waiting == 0


def test_with_one_slot_a_visitors_next_job_waits_behind_a_visitor_never_served_though_it_asked_first():
    slots = Slots(1)
    slots.ask("a1", "A")
    slots.ask("a2", "A")  # asked before B, while A's first one runs
    slots.ask("b1", "B")
    slots.release("a1")  # both now hold none: B, who has had no slot yet, goes first
    assert slots.holds("b1") and not slots.holds("a2")
    slots.release("b1")
    assert slots.holds("a2")


def test_a_second_job_waits_behind_a_later_visitor_who_holds_none():
    slots = Slots(2)
    slots.ask("a1", "A")
    slots.ask("b1", "B")
    slots.ask("a2", "A")  # first in the queue, but A holds one already
    slots.ask("c1", "C")
    slots.release("b1")
    assert slots.holds("c1") and not slots.holds("a2")
    slots.release("c1")  # nobody else waits now
    assert slots.holds("a2") and slots.held_by("A") == 2


def test_the_visitor_holding_most_gives_its_newest_slot_back_to_a_visitor_holding_none():
    slots = Slots(5)
    for job, owner in [("a1", "A"), ("a2", "A"), ("c1", "C"), ("a3", "A"), ("c2", "C")]:
        slots.ask(job, owner)
    assert not slots.give_back("a3")  # every slot is taken, but nobody waits
    slots.ask("b1", "B")
    assert not slots.holds("b1")
    assert not slots.give_back("c2")  # C holds two, A three: A gives back first
    assert not slots.give_back("a1") and not slots.give_back("a2")  # not A's newest
    assert slots.give_back("a3")
    assert slots.holds("b1") and not slots.holds("a3") and slots.waiting == 1
    assert not slots.give_back("c2")  # B holds one now: nobody waits with none
    slots.release("b1")
    assert slots.holds("a3")  # back where it was: A's newest again


def test_a_visitor_holding_one_slot_never_gives_it_back():
    slots = Slots(1)
    slots.ask("a1", "A")
    slots.ask("b1", "B")
    assert not slots.give_back("a1")
    assert slots.holds("a1") and not slots.holds("b1")


def test_a_cancelled_wait_leaves_the_queue_and_a_job_without_a_slot_releases_nothing():
    slots = Slots(1)
    slots.ask("a1", "A")
    cancelled = threading.Event()
    cancelled.set()
    assert not slots.acquire("b1", "B", cancelled)
    assert slots.waiting == 0
    slots.release("b1")  # it held none: the slot stays a1's
    assert slots.holds("a1") and slots.running == 1


def started_first(job: TrainingJob) -> TrainingJob:
    """``job`` started and holding its slot: a job started after it is then its owner's newest, the one that gives
    its slot back (each job's thread asks for a slot; started one right after the other on a loaded machine, the
    second thread asked first, the first job gave its slot back, and the test waited 600 s for the second's)."""
    job.start()
    wait_for(lambda: SLOTS.holds(job), "the first job gets its slot")
    return job


def a_running_visitor(sample, small, config: TrainConfig) -> tuple[TrainingJob, TrainingJob]:
    """Visitor "ann" runs a long training and a short one; both hold a slot and have trained, and the second has
    evaluated an epoch (its evaluation compiled: from now on it only waits for turns)."""
    first = started_first(TrainingJob(*LONG, sample, owner="ann"))
    second = TrainingJob(SPEC, config, small, owner="ann")
    # its first epoch and one step, then it holds its slot: on a busy machine the short training could
    # otherwise end before the long one has compiled its step
    second.controls.step(steps_per_epoch(config, small.num_train) + 1)
    second.start()
    wait_for(lambda: first.snapshot().step > 0 and second.controls.holding, "both of ann's trainings train")
    assert second.snapshot().epoch_metrics
    second.controls.resume()
    assert SLOTS.holds(first) and SLOTS.holds(second)
    return first, second


def test_a_visitors_second_training_gives_its_slot_to_a_newcomer_and_goes_on_exactly_where_it_stopped(
    sample, small, two_slots
):
    config = TrainConfig(epochs=30, seed=3)  # 8 steps an epoch: at least 60 turns of ann's, 30 of them evaluations
    first, second = a_running_visitor(sample, small, config)
    try:
        # its speed is measured once it has trained half a second (core.training.speed): before that its time
        # left is "working it out", on a busy machine too, and there would be none to keep while it waits
        wait_for(lambda: second.snapshot().eta_s is not None, "ann's second training knows its time left")
        turns = first.controls.turns + second.controls.turns
        newcomer = TrainingJob(SPEC, TrainConfig(epochs=10), small, owner="bob").start()
        wait_for(lambda: SLOTS.holds(newcomer), "bob's training gets a slot")
        ann_turns = first.controls.turns + second.controls.turns - turns
        assert ann_turns <= 4, f"bob waited {ann_turns} of ann's chunks"  # within a few of ann's chunks
        wait_for(lambda: second.snapshot().status == "queued", "ann's second training says it waits")
        snap = second.snapshot()
        assert snap.message == GAVE_BACK_MESSAGE and 0 < snap.step < snap.total_steps
        assert snap.eta_s is not None  # its time left waits with it
        assert not SLOTS.holds(second) and SLOTS.holds(first)

        wait_for(lambda: newcomer.controls.turns >= 3, "bob's training takes turns")
        first_turns = first.controls.turns
        assert second.snapshot().step == snap.step  # not one step more while bob trains,
        assert second.snapshot().eta_s == snap.eta_s  # and its time left stands still,
        assert SLOTS.holds(newcomer)  # (bob still held his slot when that was read)
        wait_for(lambda: first.controls.turns > first_turns, "ann's first training goes on beside bob's")
        joined(newcomer)
        assert newcomer.snapshot().status == "finished"
        joined(second)
    finally:
        first.stop()
        joined(first)

    assert second.result.status == "finished" and second.slot_wait_s > 0
    reference = train(SPEC, config, small)  # the same seed, never interrupted
    np.testing.assert_array_equal(second.result.history.step_losses, reference.history.step_losses)
    for got, want in zip(*(jax_leaves(r.params) for r in (second.result, reference)), strict=True):
        np.testing.assert_array_equal(got, want)


def jax_leaves(tree) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


def test_a_sweep_waiting_to_get_its_slot_back_can_be_stopped_and_keeps_what_it_trained(sample, small, two_slots):
    first = started_first(TrainingJob(*LONG, sample, owner="ann"))
    sweep = SweepJob(SweepPlan(SPEC, 0, (8, 16), (0, 1), TrainConfig(epochs=100)), small, owner="ann").start()
    newcomer = TrainingJob(*LONG, sample, owner="bob")
    try:
        wait_for(lambda: first.snapshot().step > 0 and sweep.snapshot().step > 0, "both of ann's jobs train")
        newcomer.start()
        wait_for(lambda: SLOTS.holds(newcomer), "bob's training gets a slot")
        wait_for(lambda: sweep.snapshot().status == "queued", "ann's sweep says it waits")
        snap = sweep.snapshot()
        assert snap.message == GAVE_BACK_MESSAGE and snap.step > 0

        sweep.stop()
        joined(sweep)
        stopped = sweep.snapshot()
        assert stopped.status == "stopped" and "0 of 4 models fully trained" in stopped.message
        assert [(r.width, r.seed, r.status) for r in stopped.runs] == [(8, 0, "stopped"), (8, 1, "stopped")]
        assert [r.result.steps for r in stopped.runs] == [snap.step // 2] * 2  # all it trained, nothing after
        assert SLOTS.running == 2 and SLOTS.waiting == 0  # it gave back no slot it did not hold
    finally:
        for job in (first, newcomer):
            job.stop()
            joined(job)


def test_with_one_slot_a_visitors_only_training_keeps_it_and_the_newcomer_waits(sample, small, one_slot):
    first = TrainingJob(*LONG, sample, owner="ann").start()
    try:
        wait_for(lambda: first.snapshot().step > 0, "ann's training trains")
        newcomer = TrainingJob(SPEC, TrainConfig(epochs=1), small, owner="bob").start()
        wait_for(lambda: SLOTS.waiting == 1, "bob's training queues")
        turns = first.controls.turns
        wait_for(lambda: first.controls.turns >= turns + 5, "ann's training takes more turns")
        assert SLOTS.holds(first) and first.snapshot().status in ("running", "evaluating")
        waiting = newcomer.snapshot()
        assert waiting.status == "queued" and "at most 1 trainings run at once" in waiting.message
    finally:
        first.stop()
        joined(first)
    joined(newcomer)
    assert newcomer.snapshot().status == "finished"
