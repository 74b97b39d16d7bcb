"""What finished runs keep in a visitor's session: with the memory budget, and without it.

``python -m benchmarks.memory [--size small|full] [--json out.json]`` trains ``runs`` runs of one
model one after another in one visitor's session, as the Train page does (``start_training``:
saved into a fresh runs folder, then counted by ``core.runs.memory``), in a fresh process per arm:

- ``budget``: the visitor budget of the size (``full``: the default, 256 MB);
- ``no budget``: budgets far above what the runs take, so nothing leaves memory (the baseline).

Then the width sweep of the size (``full``: the 48-model sweep of 16 widths 256 to 4,096 x 3 seeds, 83M
parameters): the peak resident memory of ``python -m core sweep`` (streamed) against the same sweep with every
run kept to the end (as the command line did before), and, run as the Sweep page runs it, the bytes its
session keeps against the parameters of the models it offers (target: at most 1.5x).

After each run it prints the bytes of model arrays reachable from the session (walked object by
object, so a copy held twice is counted twice), what the ledger counts, and the growth of the
process's resident memory. Printed, never asserted; the facts that do not depend on the machine
(what a budget keeps) are checked by ``tests/benchmarks/test_memory_smoke.py``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.app import ROOT
from benchmarks.throughput import benchmark_parser, machine_info, report_benchmark, require_fashion

ARMS = ("budget", "no budget")
UNBOUNDED_MB = "1000000"


@dataclass(frozen=True)
class MemoryBenchmarkSize:
    name: str
    widths: tuple[int, ...]  # the MLP's hidden layers
    runs: int
    visitor_mb: float  # the ``budget`` arm's FLAX_DASHBOARD_VISITOR_MB
    train_fraction: float  # of the bundled sample's training images, one epoch each
    sweep_widths: tuple[int, ...] = ()  # the command-line width sweep of MLP 784-WIDTH-10 (one epoch of the sample)
    sweep_seeds: int = 3


SIZES = {
    "small": MemoryBenchmarkSize(
        "small",
        (256, 256),
        runs=4,
        visitor_mb=2.5,
        train_fraction=0.05,
        sweep_widths=(64, 128, 192),
        sweep_seeds=2,
    ),
    # the sweep: 16 widths x 3 seeds, 83M parameters in all, at most 3.3M (width 4,096) each
    "full": MemoryBenchmarkSize(
        "full", (4096, 4096), runs=5, visitor_mb=256, train_fraction=0.05, sweep_widths=tuple(range(256, 4097, 256))
    ),
}
SWEEP_ARMS = ("kept to the end", "streamed")


def reachable_bytes(root: object) -> int:
    """Bytes of the numpy and JAX arrays reachable from ``root`` through this project's objects, dicts,
    lists, tuples and partials (datasets and threads not followed): what the session really holds."""
    from core.data import Dataset
    from testkit.trees import array_bytes

    return array_bytes(root, skip=(Dataset, threading.Thread), follow=("core", "components"))


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def worker(size: MemoryBenchmarkSize) -> dict[str, Any]:
    """In this process: ``size.runs`` runs in one session, with the budget the environment sets."""
    from components.state import AppState
    from components.training import start_training
    from core.data import load_dataset
    from core.spec import ModelSpec
    from core.training import TrainConfig

    sample = load_dataset("sample")
    spec = ModelSpec.mlp(size.widths)
    state = AppState()
    start = rss_bytes()
    after = []
    for seed in range(size.runs):
        run = start_training(state, spec, TrainConfig(epochs=1, seed=seed, train_fraction=size.train_fraction), sample)
        if not run.job.join(600) or run.kept is None:
            raise RuntimeError(f"run {seed + 1} did not finish: {run.job.snapshot().message}")
        gc.collect()
        after.append(
            {
                "reachable_bytes": reachable_bytes(state),
                "counted_bytes": state.memory_share().held_bytes,
                "rss_growth_bytes": rss_bytes() - start,  # compiling and the first run's data included
            }
        )
    return {"parameters": spec.parameter_count, "model_bytes": run.kept.nbytes, "after_run": after}


def sweep_arguments(size: MemoryBenchmarkSize) -> list[str]:
    values, seeds = ",".join(map(str, size.sweep_widths)), ",".join(map(str, range(size.sweep_seeds)))
    return ["sweep", "--widths", "8", "--values", values, "--seeds", seeds, "--epochs", "1", "--quiet"]


def sweep_kept_to_the_end(size: MemoryBenchmarkSize) -> None:
    """The command-line sweep as it was before it streamed (``cmd_sweep`` up to commit f46544d): the same
    estimate and training, each run printed from ``run_sweep``'s ``on_run``, and every run held in its list
    (the best seed of each width with its parameters) until the sweep ends."""
    from core.data import load_dataset
    from core.spec import ModelSpec
    from core.training import TrainConfig
    from core.training.estimate import estimate_sweep
    from core.training.sweep import SweepPlan, run_sweep

    args = sweep_arguments(size)
    values, seeds = args[args.index("--values") + 1], args[args.index("--seeds") + 1]
    plan = SweepPlan(ModelSpec.mlp((8,)), 0, values, seeds, TrainConfig(epochs=1), "width")
    dataset = load_dataset("sample")
    estimate = estimate_sweep(plan, dataset)
    runs = run_sweep(plan, dataset, on_run=lambda run: print(json.dumps(run.to_dict()), flush=True), estimate=estimate)
    assert len(runs) == plan.models


def page_sweep_worker(size: MemoryBenchmarkSize) -> dict[str, Any]:
    """In this process: the width sweep of ``size`` as the Sweep page runs it (a ``SweepJob`` in a visitor's
    session), then what the session keeps against the parameters of the models it offers."""
    from components.state import AppState
    from core.data import load_dataset
    from core.runs.sweep_job import SweepJob
    from core.spec import ModelSpec
    from core.training import TrainConfig
    from core.training.sweep import SweepPlan

    sample = load_dataset("sample")
    values, seeds = ",".join(map(str, size.sweep_widths)), tuple(range(size.sweep_seeds))
    plan = SweepPlan(ModelSpec.mlp((8,)), 0, values, seeds, TrainConfig(epochs=1), "width")
    state = AppState()
    start = rss_bytes()
    state.sweep.job = SweepJob(plan, sample).start()
    if not state.sweep.job.join(3000):
        raise RuntimeError("the sweep did not end")
    gc.collect()
    runs = state.sweep.job.runs
    return {
        "models": len(runs),
        "trained_parameters": sum(run.parameter_count for run in runs),
        "kept_parameter_bytes": sum(run.parameter_count * 4 for run in runs if run.kept),
        "session_bytes": reachable_bytes(state),
        "rss_growth_bytes": rss_bytes() - start,  # compiling every width included
    }


def run_sweep_arm(size: MemoryBenchmarkSize, arm: str) -> dict[str, Any]:
    """Peak resident memory of a fresh process running the width sweep of ``size`` (the kernel's count for
    that child, ``wait4``'s ``ru_maxrss``), and how many JSON lines it printed."""
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"), "PYTHONPATH": str(ROOT)}
    if arm == "streamed":
        command = [sys.executable, "-m", "core", *sweep_arguments(size)]
    else:
        command = [sys.executable, "-m", "benchmarks.memory", "--sweep-worker", json.dumps(asdict(size))]
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().splitlines()
    if proc.returncode != 0:
        raise RuntimeError(f"sweep ({arm}) exited with {proc.returncode}")
    return {"peak_rss_bytes": usage.ru_maxrss * 1024, "lines": len(lines)}


def sweep_report(size: MemoryBenchmarkSize) -> dict[str, Any]:
    from core.spec import ModelSpec

    counts = [ModelSpec.mlp((width,)).parameter_count for width in size.sweep_widths]
    arms = {arm: run_sweep_arm(size, arm) for arm in SWEEP_ARMS}
    return {
        "widths": list(size.sweep_widths),
        "seeds": size.sweep_seeds,
        "parameters_in_all": sum(counts) * size.sweep_seeds,
        "largest_parameters": max(counts),
        "arms": arms,
        "streamed_vs_kept": arms["streamed"]["peak_rss_bytes"] / arms["kept to the end"]["peak_rss_bytes"],
    }


def format_sweep_report(sweep: dict[str, Any]) -> list[str]:
    widths = sweep["widths"]
    lines = [
        f"command-line sweep of MLP 784-WIDTH-10, {len(widths)} widths ({widths[0]} to {widths[-1]}) x "
        f"{sweep['seeds']} seeds: {sweep['parameters_in_all']:,} parameters in all, at most "
        f"{sweep['largest_parameters']:,} each; peak resident memory of the process:"
    ]
    for arm in SWEEP_ARMS:
        result = sweep["arms"][arm]
        lines.append(f"    {arm:>15}: {result['peak_rss_bytes'] / 1e6:7.0f} MB ({result['lines']} lines printed)")
    lines.append(f"    streamed / kept to the end: {sweep['streamed_vs_kept']:.2f}")
    return lines


def run_arm(size: MemoryBenchmarkSize, arm: str) -> dict[str, Any]:
    visitor_mb = str(size.visitor_mb) if arm == "budget" else UNBOUNDED_MB
    with tempfile.TemporaryDirectory() as runs:
        env = {
            **os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"), "PYTHONPATH": str(ROOT),
            "FLAX_DASHBOARD_RUNS_DIR": runs, "FLAX_DASHBOARD_VISITOR_MB": visitor_mb,
            "FLAX_DASHBOARD_SERVER_MB": UNBOUNDED_MB,
        }  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", "--worker", json.dumps(asdict(size))],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=1200,
        )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"memory worker ({arm}) failed:\n{proc.stderr[-4000:]}")
    return {"visitor_mb": float(visitor_mb), **json.loads(proc.stdout.strip().splitlines()[-1])}


def run_benchmark(size: MemoryBenchmarkSize) -> dict[str, Any]:
    arms = {arm: run_arm(size, arm) for arm in ARMS}
    last = {arm: arms[arm]["after_run"][-1] for arm in ARMS}
    return {
        "machine": machine_info(),
        "size": asdict(size),
        "arms": arms,
        "reachable_budget_vs_none": last["budget"]["reachable_bytes"] / last["no budget"]["reachable_bytes"],
        # what the runs after the first add (the first pays for compiling and loading the data)
        "rss_growth_after_first_budget_vs_none": _after_first(arms["budget"]) / _after_first(arms["no budget"]),
        "cli_sweep": sweep_report(size),
        "page_sweep": run_worker(size, "--page-sweep-worker"),
    }


def _after_first(arm: dict[str, Any]) -> int:
    runs = arm["after_run"]
    return max(1, runs[-1]["rss_growth_bytes"] - runs[0]["rss_growth_bytes"])


def format_report(report: dict[str, Any]) -> str:
    size, arms = report["size"], report["arms"]
    model = arms["budget"]
    lines = [
        f"memory: {size['runs']} runs of MLP 784-{'-'.join(map(str, size['widths']))}-10 in one session "
        f"({model['parameters']:,} parameters, {model['model_bytes'] / 1e6:.1f} MB kept per finished run)",
    ]
    for arm in ARMS:
        lines.append(f"  {arm} (visitor budget {arms[arm]['visitor_mb']:g} MB), after each run:")
        for i, after in enumerate(arms[arm]["after_run"], start=1):
            lines.append(
                f"    run {i}: {after['reachable_bytes'] / 1e6:7.1f} MB of arrays reachable from the session, "
                f"{after['counted_bytes'] / 1e6:7.1f} MB counted, process +{after['rss_growth_bytes'] / 1e6:,.0f} MB"
            )
    lines.append(
        f"  budget / no budget after the last run: arrays {report['reachable_budget_vs_none']:.2f}, "
        f"process growth after the first run {report['rss_growth_after_first_budget_vs_none']:.2f}"
    )
    lines += format_sweep_report(report["cli_sweep"])
    lines += format_page_sweep(report["page_sweep"])
    return "\n".join(lines)


def format_page_sweep(page: dict[str, Any]) -> list[str]:
    ratio = page["session_bytes"] / page["kept_parameter_bytes"]
    verdict = "pass" if ratio <= 1.5 else "MISS"
    kept, held = page["kept_parameter_bytes"] / 1e6, page["session_bytes"] / 1e6
    return [
        f"Sweep page, the same sweep ({page['models']} models, {page['trained_parameters']:,} parameters trained):",
        f"    the session keeps {held:.1f} MB of arrays for {kept:.1f} MB of kept models' parameters: "
        f"{ratio:.2f}x (target at most 1.5x: {verdict})",
        f"    process +{page['rss_growth_bytes'] / 1e6:,.0f} MB after it (compiling every width included)",
    ]


def size_from_json(text: str) -> MemoryBenchmarkSize:
    fields = json.loads(text)
    return MemoryBenchmarkSize(
        **{**fields, "widths": tuple(fields["widths"]), "sweep_widths": tuple(fields["sweep_widths"])}
    )


def run_worker(size: MemoryBenchmarkSize, flag: str) -> dict[str, Any]:
    """A worker of this module in a fresh process (its last line of output, JSON)."""
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", flag, json.dumps(asdict(size))],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=3600,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"memory worker {flag} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m benchmarks.memory", __doc__, "5 runs of a 784-256-256-10 MLP (CI)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sweep-worker", help=argparse.SUPPRESS)
    parser.add_argument("--page-sweep-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.page_sweep_worker:
        print(json.dumps(page_sweep_worker(size_from_json(args.page_sweep_worker))))
        return
    if args.sweep_worker:
        sweep_kept_to_the_end(size_from_json(args.sweep_worker))
        return
    if args.worker:
        fields = json.loads(args.worker)
        print(json.dumps(worker(MemoryBenchmarkSize(**{**fields, "widths": tuple(fields["widths"])}))))
        return
    require_fashion(parser)
    report_benchmark(args, SIZES, run_benchmark, format_report)


if __name__ == "__main__":
    main()
