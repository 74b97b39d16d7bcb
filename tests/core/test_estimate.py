"""A sweep's estimate: the turns it asks for, the turns other trainings take meanwhile, and timing
in turns of the machine. Hand values; the one timing test counts turns, never seconds."""

from contextlib import contextmanager

import pytest

from core.spec import ModelSpec
from core.training import TrainConfig
from core.training.estimate import OtherTraining, SweepEstimate, estimate_sweep, stack_turns, waiting_s
from core.training.pacing import FreeRun
from core.training.sweep import SweepPlan


def test_a_stack_asks_for_its_chunks_of_steps_and_one_evaluation_per_epoch():
    # 35 steps an epoch at 1 ms: a chunk of 2 steps to measure, then the epoch's 33 left in one chunk
    # (0.2 s would be 200 steps); then an evaluation
    assert stack_turns(35, 1, 0.001) == 2 + 1
    assert stack_turns(35, 10, 0.001) == (2 + 9) + 10  # later epochs are one chunk each
    # 10 ms a step: 20 steps make 0.2 s: chunks of 2, 20, 20, 20, 20, 18 steps, then 5 of 20
    assert stack_turns(100, 2, 0.01) == 6 + 5 + 2


def test_waiting_counts_one_turn_of_every_other_visitor_between_two_turns_of_the_sweep():
    forever = OtherTraining("ann", turn_s=0.05, left_s=None)
    assert waiting_s(100, [], "me") == 0.0
    assert waiting_s(100, [forever], "me") == pytest.approx(5.0)
    # a training with 2 s of compute left stops taking turns when it is done
    assert waiting_s(100, [OtherTraining("bob", 0.2, 2.0)], "me") == pytest.approx(2.0)
    # ann's two trainings share ann's turn: one turn (their mean length) per round, not two
    both = [forever, OtherTraining("ann", turn_s=0.15, left_s=None)]
    assert waiting_s(100, both, "me") == pytest.approx(10.0)
    # my own training takes every other turn of mine: ann then has two rounds per turn of the sweep
    mine = OtherTraining("me", turn_s=0.1, left_s=None)
    assert waiting_s(100, [forever, mine], "me") == pytest.approx(100 * 0.1 + 200 * 0.05)


def test_sharing_adds_each_widths_part_of_the_wait_and_can_be_redone_as_trainings_come_and_go():
    alone = SweepEstimate(4.0, (1.0, 3.0), (0.001, 0.003), 2.0, "by hand", 0.3, turns=(10, 30))
    shared = alone.sharing([OtherTraining("ann", 0.1, None)], "me")
    assert shared.waiting_s == pytest.approx(4.0) and shared.others == 1
    assert shared.per_width_s == pytest.approx((2.0, 6.0)) and shared.total_s == pytest.approx(8.0)
    assert "includes 4 s of turns for the 1 other training running now" in shared.describe()
    again = shared.sharing([], "me")  # ann's training ended before Start
    assert again.per_width_s == pytest.approx((1.0, 3.0)) and again.total_s == pytest.approx(4.0)
    assert again.describe() == alone.describe()


class CountedTurns(FreeRun):
    """No waiting, but every turn counted: the timing must hold one for each timed run."""

    def __init__(self) -> None:
        self.turns = 0

    @contextmanager
    def turn(self):
        self.turns += 1
        yield


def test_steps_are_timed_in_turns_of_the_machine_once_per_program(small):
    plan = SweepPlan(ModelSpec.mlp((64, 32)), 0, (8, 16, 24), (0, 1), TrainConfig(epochs=2))
    pacing = CountedTurns()
    estimate = estimate_sweep(plan, small, pacing=pacing)
    # widths 8 and 24 timed: a warm-up and a probe run, three timed runs, three evaluations, each in a turn
    assert pacing.turns == 2 * (2 + 3 + 3)
    # 8 steps an epoch (1,024 images at 128): 2 then 6 in the first epoch, 8 in the second, 2 evaluations
    assert estimate.turns == (5, 5, 5)
    again = CountedTurns()
    assert estimate_sweep(plan, small, pacing=again).step_s == estimate.step_s and again.turns == 0  # kept
