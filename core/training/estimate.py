"""How long will a sweep take? A short timing of real training steps on this machine, extrapolated."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import jax
import numpy as np

from core.data import Dataset
from core.jax_setup import compilation_cache_dir
from core.training.programs import MAX_CHUNK_STEPS, plan_rows
from core.training.stack import fresh_model_state, plan_stack, stack, state_shapes, steps_per_epoch
from core.training.sweep import SweepPlan, seed_groups

#: Assumed compile time of one model's programs before any has been measured in this process.
TYPICAL_COMPILE_S = 2.0
_measured_compile_s: list[float] = []


@dataclass(frozen=True)
class SweepEstimate:
    """Expected wall time of a sweep on this machine, from a short timing of real training steps."""

    total_s: float
    per_width_s: tuple[float, ...]
    step_s: tuple[float, ...]  # seconds per training step of each width (all its seeds together)
    compile_s: float  # expected compile time of a width not compiled yet
    timed: str  # what was timed, in words
    timing_s: float  # how long the timing itself took

    def describe(self) -> str:
        return f"timed {self.timed} in {self.timing_s:.1f} s on this machine"


def linear(points: list[tuple[float, float]]) -> Callable[[float], float]:
    """The line through two (size, seconds) points, never below zero (a constant for one point)."""
    if len(points) == 1 or points[0][0] == points[-1][0]:
        return lambda _size: points[-1][1]
    (x0, y0), (x1, y1) = points[0], points[-1]
    slope = max(0.0, (y1 - y0) / (x1 - x0))
    return lambda size: max(1e-6, y0 + slope * (size - x0))


def estimate_sweep(
    plan: SweepPlan, dataset: Dataset, *, batched: bool = True, timing_seconds: float = 0.3
) -> SweepEstimate:
    """Estimate a sweep's wall time by timing ``timing_seconds`` of real steps of its smallest and
    largest model (after compiling them, which the sweep then reuses) and assuming that a step's
    time and an evaluation's grow linearly with the parameters trained at once."""
    tic = time.perf_counter()
    points = plan.points  # (model, settings) of each value: a share of the images changes the steps per epoch
    specs = [spec for spec, _ in points]
    seeds = plan.seeds if batched else plan.seeds[:1]
    sizes = [spec.parameter_count for spec in specs]
    timed = sorted({int(np.argmin(sizes)), int(np.argmax(sizes))})
    step_points, eval_points, compiles = [], [], []
    for i in timed:
        group, config = seed_groups(specs[i], seeds)[0], points[i][1]
        per_epoch = steps_per_epoch(config, dataset.num_train)
        members = [(specs[i].replace(seed=s), config) for s in group]
        stack_ = plan_stack(members, dataset)
        with ThreadPoolExecutor(max_workers=2) as pool:
            for job in stack_.compile(state_shapes(stack_, members), pool):
                stack_.compile_s += job.result()[1]
        if stack_.compile_s > 0:
            compiles.append(stack_.compile_s)
        states = jax.device_put(stack([fresh_model_state(s, c) for s, c in members]), stack_.program.layout.per_model)
        plans = np.zeros((len(group), plan_rows(stack_.program.noise), dataset.num_train), np.int32)
        plans[:, 0] = np.arange(dataset.num_train)
        limits = np.full(len(group), np.inf)

        def run(steps: int, stack_=stack_, states=states, plans=plans, limits=limits) -> float:
            start = time.perf_counter()
            jax.block_until_ready(stack_.steps(False, states, plans, 0, np.full(len(limits), steps), limits))
            return time.perf_counter() - start

        run(min(2, per_epoch))  # the first call pays one-off costs
        probe = max(run(min(2, per_epoch)) / min(2, per_epoch), 1e-6)
        steps = int(min(per_epoch, MAX_CHUNK_STEPS, max(2, timing_seconds / probe)))
        step_points.append((specs[i].parameter_count * len(group), run(steps) / steps))
        start = time.perf_counter()
        stack_.evaluate(states.variables)
        eval_points.append((specs[i].parameter_count * len(group), time.perf_counter() - start))
    step_time, eval_time = linear(step_points), linear(eval_points)
    _measured_compile_s.extend(compiles)
    del _measured_compile_s[:-8]
    measured = compiles or _measured_compile_s[-2:]
    compile_each = float(np.mean(measured)) if measured else TYPICAL_COMPILE_S
    per_width, step_s = [], []
    for spec, config in points:
        total_steps = steps_per_epoch(config, dataset.num_train) * config.epochs
        groups = seed_groups(spec, plan.seeds) if batched else [(s,) for s in plan.seeds]
        seconds, width_steps = 0.0, 0.0
        for group in groups:
            per_step = step_time(spec.parameter_count * len(group))
            width_steps += per_step
            # an evaluation after each epoch, and the final score of each model
            seconds += total_steps * per_step + config.epochs * eval_time(spec.parameter_count * len(group))
            seconds += len(group) * eval_time(spec.parameter_count)
        members = [(spec.replace(seed=s), config) for s in groups[0]]
        stack_ = plan_stack(members, dataset)
        if not stack_.is_compiled(state_shapes(stack_, members)):
            # separate seeds compile once each, unless the persistent cache serves the later ones
            seconds += compile_each * (1 if batched or compilation_cache_dir() else len(plan.seeds))
        per_width.append(seconds)
        step_s.append(width_steps)
    largest, smallest = specs[int(np.argmax(sizes))], specs[int(np.argmin(sizes))]
    what = " and ".join(dict.fromkeys(s.describe() for s in (smallest, largest)))
    return SweepEstimate(
        total_s=float(sum(per_width)),
        per_width_s=tuple(per_width),
        step_s=tuple(step_s),
        compile_s=compile_each,
        timed=f"{what} ({len(seeds)} seed{'s' if len(seeds) > 1 else ''} at once)",
        timing_s=time.perf_counter() - tic,
    )


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
    waiting for a turn). Below the latest estimate its clock slows (it decays towards zero
    instead of reaching it), so a run that turned out slower than first thought climbs back
    within a few updates instead of sitting at "0 s" while it still trains.

    Estimates from a training's speed jump around (an evaluation, another visitor's chunk, a
    slow first chunk); shown raw they read 39 s, 23, 13, 17, 15, ?, 13.
    """

    def __init__(self) -> None:
        self._shown: float | None = None
        self._at = 0.0
        self._estimate = 0.0  # the latest estimate given

    def update(self, now: float, estimate: float | None) -> float | None:
        """What to show at ``now`` (seconds on any steady clock) given a new ``estimate`` (or None)."""
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
        waited = max(0.0, now - self._at)
        if 0 < self._shown < self._estimate:
            return self._shown * math.exp(-waited / self._estimate)
        return max(0.0, self._shown - waited)
