"""How close is a sweep's first estimate to its real time? Alone, and while another visitor trains.

``python -m benchmarks.estimates [--size small|full] [--json out.json]`` runs the Width sweep page's
default sweep (the default MLP's first layer at every default width, seeds 0, 1 and 2: 24 models)
in a fresh process per arm, with a new empty compilation cache each (a server's first sweep of
these shapes):

- ``alone``: the estimate the page shows before Start, then the sweep as a ``SweepJob``;
- ``shared``: the same while another visitor's Train-page ``TrainingJob`` (the default MLP, long
  enough to outlast the sweep) takes turns with it through ``core.runs.scheduler``; the estimate
  is made while that training runs, as a second visitor would press "Apply and estimate".

Each arm prints the first estimate, the real wall time from Start to the end, estimate / real, and
where the real time went (compiling, training chunks, the rest: evaluation and per-width setup),
beside the estimate's own split. Arms alternate over ``repeats`` rounds. Target (issue 12):
estimate / real within 0.7-1.3. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.app import ROOT
from benchmarks.throughput import (
    FASHION_DIR,
    benchmark_parser,
    machine_info,
    report_benchmark,
    require_fashion,
)
from core import data as core_data
from core.jax_setup import ENV_VAR as JAX_CACHE_ENV
from core.jax_setup import enable_compilation_cache
from core.presets import PRESETS
from core.runs.jobs import TrainingJob, running_trainings
from core.runs.scheduler import JobControls
from core.runs.sweep_job import SweepJob
from core.training import Status, TrainConfig, steps_per_epoch
from core.training.estimate import estimate_sweep
from core.training.sweep import DEFAULT_WIDTHS, SweepPlan

TARGET = (0.7, 1.3)
ARMS = ("alone", "shared")
SEEDS = (0, 1, 2)  # the page's default seeds
DEFAULT_MLP = PRESETS["MNIST classifier (default)"][1]


@dataclass(frozen=True)
class EstimateBenchmarkSize:
    name: str
    dataset: str
    epochs: int
    repeats: int  # rounds of both arms, alternating


SIZES = {
    "small": EstimateBenchmarkSize("small", dataset="sample", epochs=TrainConfig().epochs, repeats=1),
    "full": EstimateBenchmarkSize("full", dataset=f"idx:{FASHION_DIR}", epochs=1, repeats=2),
}


def default_plan(epochs: int) -> SweepPlan:
    """The Width sweep page's default: the first layer of the default MLP, the default widths and seeds."""
    return SweepPlan(DEFAULT_MLP, DEFAULT_MLP.dense_indices[0], DEFAULT_WIDTHS, SEEDS, TrainConfig(epochs=epochs))


def sweep_arm(dataset_name: str, epochs: int, shared: bool) -> dict[str, Any]:
    """One arm in this (fresh) process: estimate as the page does, then run the sweep to its end."""
    enable_compilation_cache()
    dataset = core_data.load_dataset(dataset_name)
    plan = default_plan(epochs)
    other = None
    if shared:
        other = TrainingJob(DEFAULT_MLP, TrainConfig(epochs=1000), dataset, owner="another visitor").start()
        while other.controls.steps_run == 0:
            time.sleep(0.05)
        time.sleep(1.0)  # past its first chunks: it trains as it will while the sweep runs
    try:
        tic = time.perf_counter()
        # as the Width sweep page does: timed in turns, then the trainings running now added
        estimate = estimate_sweep(plan, dataset, pacing=JobControls(owner="this visitor"))
        running_trainings_before = running_trainings()
        estimate = estimate.sharing(running_trainings_before, "this visitor")
        estimating_s = time.perf_counter() - tic
        tic = time.perf_counter()
        job = SweepJob(plan, dataset, estimate, owner="this visitor").start()
        job.join()
        real_s = time.perf_counter() - tic
        other_alive = other is None or other.alive
    finally:
        if other is not None:
            other.stop()
            other.join()
    if job.snapshot().status != Status.FINISHED or not other_alive:
        raise RuntimeError(f"the sweep did not finish as planned: {job.snapshot().message}")
    first_of_width = {}
    for run in job.runs:  # the seeds of a width train as one stack: its compile and training are shared
        first_of_width.setdefault(run.value, run)
    compile_s = sum(run.result.compile_s for run in first_of_width.values())
    train_s = sum(run.result.train_s for run in first_of_width.values())
    points = plan.points
    est_train = sum(
        steps_per_epoch(config, dataset.num_train) * config.epochs * step
        for (_, config), step in zip(points, estimate.step_s, strict=True)
    )
    return {
        "shared": shared,
        "models": plan.models,
        "estimate_s": estimate.total_s,
        "estimating_s": estimating_s,
        "real_s": real_s,
        "ratio": estimate.total_s / real_s,
        "real_split_s": {"compile": compile_s, "train": train_s, "rest": real_s - compile_s - train_s},
        "estimate_split_s": {
            "compile_each": estimate.compile_s,
            "train": est_train,
            "rest": estimate.total_s - est_train - estimate.waiting_s,
            "waiting": estimate.waiting_s,
        },
        "turns": job.controls.turns,
        "estimated_turns": sum(estimate.turns),
        "others_turn_s": [other.turn_s for other in running_trainings_before],
        "held_s": job.controls.held_s,
        "waited_s": job.controls.waited_s,
        "timed": estimate.describe(),
    }


def run_worker(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.estimates", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=1800,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"worker {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_benchmark(size: EstimateBenchmarkSize) -> dict[str, Any]:
    rounds = []
    for _ in range(size.repeats):
        for arm in ARMS:
            with tempfile.TemporaryDirectory(prefix="flax-dashboard-bench-jax-") as cache:
                env = {**os.environ, JAX_CACHE_ENV: cache}
                args = ["--worker", arm, "--dataset", size.dataset, "--epochs", str(size.epochs)]
                rounds.append({"arm": arm, **run_worker(args, env)})
    return {
        "size": asdict(size),
        "machine": machine_info(),
        "plan": default_plan(size.epochs).describe(),
        "target": TARGET,
        "rounds": rounds,
    }


def format_report(report: dict[str, Any]) -> str:
    size, (low, high) = report["size"], report["target"]
    lines = [
        f"sweep estimates: {report['plan']}, {size['epochs']} epoch(s) on {size['dataset']}, "
        f"{size['repeats']} round(s), a fresh process and compile cache per arm",
        f"  {'arm':<8}{'estimate':>10}{'real':>9}{'est / real':>12}   real: compile + train + rest"
        f"   estimate: train + rest + waiting (compile each)   turns real / estimated",
    ]
    for row in report["rounds"]:
        real, est = row["real_split_s"], row["estimate_split_s"]
        ok = "pass" if low <= row["ratio"] <= high else "MISS"
        lines.append(
            f"  {row['arm']:<8}{row['estimate_s']:>9.1f}s{row['real_s']:>8.1f}s{row['ratio']:>12.2f} {ok}"
            f"  {real['compile']:5.1f} + {real['train']:5.1f} + {real['rest']:5.1f} s"
            f"      {est['train']:5.1f} + {est['rest']:5.1f} + {est['waiting']:5.1f} s ({est['compile_each']:.2f} s)"
            f"   {row['turns']} / {row['estimated_turns']}; held {row['held_s']:.1f} s, waited "
            f"{row['waited_s']:.1f} s; others' turns {', '.join(f'{t * 1e3:.0f}' for t in row['others_turn_s'])} ms;"
            f" estimating took {row['estimating_s']:.1f} s"
        )
    lines.append(f"  target: estimate / real within {low:.1f}-{high:.1f}, alone and shared")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m benchmarks.estimates", __doc__, "the default sweep on the bundled sample")
    parser.add_argument("--worker", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", default="sample", help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(sweep_arm(args.dataset, args.epochs, args.worker == "shared")))
        return
    if args.size == "full":
        require_fashion(parser)
    report_benchmark(args, SIZES, run_benchmark, format_report)


if __name__ == "__main__":
    main()
