"""How long will a sweep take? A short timing of real training steps on this machine, extrapolated,
and the turns other trainings take meanwhile (``core.runs.scheduler``)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import jax
import numpy as np

from core.data import Dataset
from core.jax_setup import compilation_cache_dir
from core.training.engine import chunk_steps
from core.training.pacing import FreeRun, Pacing
from core.training.programs import MAX_CHUNK_STEPS, plan_rows
from core.training.stack import fresh_model_state, plan_stack, stack, state_shapes, steps_per_epoch
from core.training.sweep_plan import SweepPlan, seed_groups

#: Assumed compile time of one model's programs before any has been measured in this process.
TYPICAL_COMPILE_S = 2.0
#: The engine's chunk of steps (``train_stack``'s ``chunk_seconds``): also another training's turn when unknown.
CHUNK_S = 0.2
_measured_compile_s: list[float] = []
#: (program, data) -> (seconds per step, seconds per epoch's evaluation), timed alone once per process
_timings: dict[tuple, tuple[float, float]] = {}


def _english(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


@dataclass(frozen=True)
class SweepEstimate:
    """Expected wall time of a sweep on this machine, from a short timing of real training steps."""

    total_s: float
    per_width_s: tuple[float, ...]
    step_s: tuple[float, ...]  # seconds per training step of each width (all its seeds together)
    compile_s: float  # expected compile time of a width not compiled yet
    timed: str  # what was timed, in words (English)
    timing_s: float  # how long the timing itself took
    turns: tuple[int, ...] = ()  # turns of the machine each width asks for (chunks of steps, evaluations)
    waiting_s: float = 0.0  # of ``total_s``: waiting while other trainings have their turns
    others: int = 0  # trainings that were taking turns when it was made
    timed_models: tuple[str, ...] = ()  # the models timed (their one-line summaries)
    timed_seeds: int = 1  # trained together, at once

    def describe(self, gettext: Callable[[str], str] = str, ngettext: Callable[[str, str, int], str] = _english) -> str:
        """What was timed and what the estimate includes, in the language of ``gettext`` and ``ngettext``
        (a page passes its own)."""
        models = self.timed_models or (self.timed,)
        if len(models) == 2:
            models = (gettext("{first} and {second}").format(first=models[0], second=models[1]),)
        timed = ngettext(
            "timed {models} ({seeds} seed at once) in {seconds:.1f} s on this machine",
            "timed {models} ({seeds} seeds at once) in {seconds:.1f} s on this machine",
            self.timed_seeds,
        ).format(models=models[0], seeds=self.timed_seeds, seconds=self.timing_s)
        if not self.others:
            return timed
        turns = ngettext(
            "{timed}; includes {waiting:.0f} s of turns for the {others} other training running now",
            "{timed}; includes {waiting:.0f} s of turns for the {others} other trainings running now",
            self.others,
        )
        return turns.format(timed=timed, waiting=self.waiting_s, others=self.others)

    def sharing(self, others: Sequence[OtherTraining], owner: object) -> SweepEstimate:
        """This estimate when the trainings ``others`` take turns with the sweep of visitor ``owner``:
        each width waits its share, by turns, of ``waiting_s`` (replacing any earlier wait)."""
        if not self.turns:
            return self
        wait = waiting_s(sum(self.turns), others, owner)
        added = (wait - self.waiting_s) / max(sum(self.turns), 1)
        per_width = tuple(s + added * t for s, t in zip(self.per_width_s, self.turns, strict=True))
        return replace(self, total_s=float(sum(per_width)), per_width_s=per_width, waiting_s=wait, others=len(others))


@dataclass(frozen=True)
class OtherTraining:
    """A training taking turns of the machine: whose it is, how long its turns last, and how much
    compute it still needs (None: not known yet, assumed to outlast any sweep)."""

    owner: object
    turn_s: float
    left_s: float | None


def waiting_s(turns: int, others: Sequence[OtherTraining], owner: object) -> float:
    """Seconds a job of ``owner`` needing ``turns`` turns waits while ``others`` have theirs.

    The scheduler goes round robin over owners, then over each owner's jobs: between two turns of
    this job every other owner has one turn per job of ``owner`` (this one included), and each of
    ``owner``'s other jobs has one. A training stops taking turns once its ``left_s`` is spent.
    """
    own = [o for o in others if o.owner == owner]
    rounds = turns * (1 + len(own))
    wait = sum(min(turns * o.turn_s, math.inf if o.left_s is None else o.left_s) for o in own)
    by_owner: dict[object, list[OtherTraining]] = {}
    for other in others:
        if other.owner != owner:
            by_owner.setdefault(other.owner, []).append(other)
    for jobs in by_owner.values():
        left = math.inf if any(o.left_s is None for o in jobs) else sum(o.left_s for o in jobs)
        wait += min(rounds * float(np.mean([o.turn_s for o in jobs])), left)
    return float(wait)


def stack_turns(per_epoch: int, epochs: int, step_s: float, chunk_seconds: float = CHUNK_S) -> int:
    """Turns one stack asks for: the engine's chunks of steps (``chunk_steps``: 2 steps first, then
    about ``chunk_seconds`` each, never past an epoch's end) and one evaluation per epoch."""
    turns, measured = epochs, None
    for _ in range(epochs):
        offset = 0
        while offset < per_epoch:
            offset += chunk_steps(measured, per_epoch - offset, chunk_seconds)
            measured, turns = step_s, turns + 1
    return turns


def linear(points: list[tuple[float, float]]) -> Callable[[float], float]:
    """The line through two (size, seconds) points, never below zero (a constant for one point)."""
    if len(points) == 1 or points[0][0] == points[-1][0]:
        return lambda _size: points[-1][1]
    (x0, y0), (x1, y1) = points[0], points[-1]
    slope = max(0.0, (y1 - y0) / (x1 - x0))
    return lambda size: max(1e-6, y0 + slope * (size - x0))


def estimate_sweep(
    plan: SweepPlan,
    dataset: Dataset,
    *,
    batched: bool = True,
    timing_seconds: float = 0.3,
    pacing: Pacing | None = None,
) -> SweepEstimate:
    """Estimate a sweep's wall time alone by timing ``timing_seconds`` of real steps of its smallest and
    largest model (after compiling them, which the sweep then reuses) and assuming that a step's
    time and an evaluation's grow linearly with the parameters trained at once.

    Each timing runs in a turn of ``pacing`` (a ``JobControls`` in the dashboard), so it has the
    machine to itself as the sweep's chunks will; it is the best of three (noise only slows a
    run down) and is kept for the process, per program. ``SweepEstimate.sharing`` then adds the
    turns of the trainings running beside it.
    """
    tic = time.perf_counter()
    pacing = pacing or FreeRun()
    points = plan.points  # (model, settings) of each value: a share of the images changes the steps per epoch
    specs = [spec for spec, _ in points]
    seeds = plan.seeds if batched else plan.seeds[:1]
    sizes = [spec.parameter_count for spec in specs]
    timed = sorted({int(np.argmin(sizes)), int(np.argmax(sizes))})
    step_time, eval_time, compile_each = _time_models(
        [points[i] for i in timed], seeds, dataset, timing_seconds, pacing
    )
    per_width, step_s, turns = [], [], []
    for spec, config in points:
        per_epoch = steps_per_epoch(config, dataset.num_train)
        groups = seed_groups(spec, plan.seeds) if batched else [(s,) for s in plan.seeds]
        seconds, width_steps, width_turns = 0.0, 0.0, 0
        for group in groups:
            per_step = step_time(spec.parameter_count * len(group))
            width_steps += per_step
            # an evaluation after each epoch (test images and the train curve's) gives every model its score
            seconds += per_epoch * config.epochs * per_step + config.epochs * eval_time(
                spec.parameter_count * len(group)
            )
            width_turns += stack_turns(per_epoch, config.epochs, per_step)
        members = [(spec.replace(seed=s), config) for s in groups[0]]
        stack_ = plan_stack(members, dataset)
        if not stack_.is_compiled(state_shapes(stack_, members)):
            # separate seeds compile once each, unless the persistent cache serves the later ones
            seconds += compile_each * (1 if batched or compilation_cache_dir() else len(plan.seeds))
        per_width.append(seconds)
        step_s.append(width_steps)
        turns.append(width_turns)
    models = tuple(dict.fromkeys(specs[i].describe() for i in (int(np.argmin(sizes)), int(np.argmax(sizes)))))
    return SweepEstimate(
        total_s=float(sum(per_width)),
        per_width_s=tuple(per_width),
        step_s=tuple(step_s),
        compile_s=compile_each,
        timed=f"{' and '.join(models)} ({len(seeds)} seed{'s' if len(seeds) > 1 else ''} at once)",
        timed_models=models,
        timed_seeds=len(seeds),
        timing_s=time.perf_counter() - tic,
        turns=tuple(turns),
    )


def _time_models(
    points: Sequence[tuple], seeds: Sequence[int], dataset: Dataset, timing_seconds: float, pacing: Pacing
) -> tuple[Callable[[float], float], Callable[[float], float], float]:
    """Seconds per step and per evaluation as functions of the parameters trained at once, from real
    timings of ``points`` (each a stack of its first seed group, timed once per process), and the
    compile time of one model."""
    step_points, eval_points, compiles = [], [], []
    for spec, config in points:
        group = seed_groups(spec, seeds)[0]
        members = [(spec.replace(seed=s), config) for s in group]
        stack_ = plan_stack(members, dataset)
        key = (stack_.program, config.train_fraction, dataset.name, dataset.num_train, dataset.num_test)
        if key not in _timings:
            setup_s, states = set_up(stack_, members)
            if setup_s is not None:
                compiles.append(setup_s)
            per_epoch = steps_per_epoch(config, dataset.num_train)
            _timings[key] = time_steps_and_evaluation(
                stack_, states, dataset.num_train, per_epoch, timing_seconds, pacing
            )
        step, evaluation = _timings[key]
        step_points.append((spec.parameter_count * len(group), step))
        eval_points.append((spec.parameter_count * len(group), evaluation))
    _measured_compile_s.extend(compiles)
    del _measured_compile_s[:-8]
    measured = compiles or _measured_compile_s[-2:]
    compile_each = float(np.mean(measured)) if measured else TYPICAL_COMPILE_S
    return linear(step_points), linear(eval_points), compile_each


def set_up(stack_, members) -> tuple[float | None, object]:
    """Compile a stack's programs as the engine does (the step while the starting values are computed,
    then the evaluations, on one thread) and place its states: (seconds, None if nothing compiled; states)."""
    tic = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        jobs = stack_.compile(state_shapes(stack_, members), pool)
        states = stack([fresh_model_state(s, c) for s, c in members])
        compiled = any([job.result()[1] > 0 for job in jobs])
    states = jax.device_put(states, stack_.program.layout.per_model)
    return (time.perf_counter() - tic if compiled else None), states


def time_steps_and_evaluation(
    stack_, states, num_train: int, per_epoch: int, timing_seconds: float, pacing: Pacing, repeats: int = 3
) -> tuple[float, float]:
    """(seconds per step, seconds of one epoch's evaluations) of a compiled stack, each the best of
    ``repeats`` timings, each in a turn of ``pacing``."""
    count = stack_.program.models
    plans = np.zeros((count, plan_rows(stack_.program.noise), num_train), np.int32)
    plans[:, 0] = np.arange(num_train)
    limits = np.full(count, np.inf)

    def timed(work: Callable[[], object]) -> float:
        with pacing.turn():
            start = time.perf_counter()
            jax.block_until_ready(work())
            return time.perf_counter() - start

    def run(steps: int) -> float:
        return timed(lambda: stack_.steps(False, states, plans, 0, np.full(count, steps), limits))

    first = min(2, per_epoch)
    run(first)  # the first call pays one-off costs
    probe = max(run(first) / first, 1e-6)
    steps = int(min(per_epoch, MAX_CHUNK_STEPS, max(2, timing_seconds / repeats / probe)))
    step = min(run(steps) for _ in range(repeats)) / steps
    evaluation = min(
        timed(lambda: (stack_.evaluate(states.variables), stack_.evaluate(states.variables, on_train=True)))
        for _ in range(repeats)
    )
    return step, evaluation


#: The most "time left" may rise in ``RISE_PERIOD_S`` (the page shows it once a second), as a share of
#: what was shown: a training reports several times a second, so a rise per update would compound.
MAX_RISE = 0.2
RISE_PERIOD_S = 1.0
#: How far each new estimate moves what is shown towards it (the rest: the clock counting down).
FOLLOW = 0.3


class Countdown:
    """'Time left' as a person wants to read it: it counts down with the clock, follows new estimates
    part of the way (``FOLLOW``), never rises by more than ``MAX_RISE`` within ``RISE_PERIOD_S``
    however often it is updated, and keeps counting down when an update has no estimate (compiling, evaluating,
    waiting for a turn). It stands still while the run waits to get its training slot back (``hold``). Below
    the latest estimate its clock slows (it decays towards zero instead of reaching it), so a run that turned
    out slower than first thought climbs back within a few updates instead of sitting at "0 s" while it still
    trains.

    Estimates from a training's speed jump around (an evaluation, another visitor's chunk, a
    slow first chunk); shown raw they read 39 s, 23, 13, 17, 15, ?, 13.
    """

    def __init__(self) -> None:
        self._shown: float | None = None
        self._at = 0.0
        self._estimate = 0.0  # the latest estimate given
        self._held_at: float | None = None

    def hold(self, now: float) -> None:
        """Stop counting down from ``now``: the run waits for a training slot and gets no nearer its end."""
        if self._held_at is None:
            self._held_at = now

    def go_on(self, now: float) -> None:
        """Count down again from what was shown at ``hold`` (the time held does not count)."""
        if self._held_at is not None:
            self._at += max(0.0, now - self._held_at)
            self._held_at = None

    def update(self, now: float, estimate: float | None) -> float | None:
        """What to show at ``now`` (seconds on any steady clock) given a new ``estimate`` (or None)."""
        self.go_on(now)  # an update comes from a run that runs
        counted = self.read(now)
        if estimate is not None:
            self._estimate = max(0.0, estimate)
        if counted is None:
            if estimate is not None:
                self._shown, self._at = self._estimate, now
            return self._shown
        target = counted if estimate is None else counted + FOLLOW * (self._estimate - counted)
        rise = (1 + MAX_RISE) ** min(1.0, max(0.0, now - self._at) / RISE_PERIOD_S)
        self._shown, self._at = min(target, rise * counted), now
        return self._shown

    def read(self, now: float) -> float | None:
        """What to show at ``now`` without a new estimate: the last value, counted down."""
        if self._shown is None:
            return None
        if self._held_at is not None:
            now = min(now, self._held_at)
        waited = max(0.0, now - self._at)
        if 0 < self._shown < self._estimate:
            return self._shown * math.exp(-waited / self._estimate)
        return max(0.0, self._shown - waited)
