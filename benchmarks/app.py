"""How the dashboard feels at full scale: compile, clicks, training inside the app, memory, long curves.

``python -m benchmarks.app [--size small|full] [--json out.json]`` measures, in one run:

- time to the first training step of the default MLP and autoencoder in a fresh process, cold
  (JAX's persistent compilation cache in a new empty folder) and warm (a second process, same folder);
- how long full Fashion-MNIST takes to load (``benchmarks.throughput.time_dataset_load``);
- the latency of the main interactions through ``streamlit.testing.v1.AppTest`` on ``app.py``:
  a width change on the Build page, the same change with the Variables page open, page switches
  (also while two trainings run), another input on the Inside page for the default models;
- training images/s started from the Train page (rerun every ``POLL_INTERVAL_S`` like a browser
  polling it) against ``core.training.train`` alone, interleaved, best of ``repeats`` rounds each,
  and in the app with the Train page's live views of the model on (default) against off;
- the peak memory (VmHWM) of a fresh app process that trains the default MLP that way;
- the weight of a 150,000-step loss curve: build time, JSON size, points per trace.

Every number is printed with its target where the issue "Performance and scale" sets one. AppTest
runs the script in this process without a browser: its latencies are server-side only (no
websocket, no drawing in the browser). Targets are printed, never asserted (a loaded machine would flake).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.throughput import (
    FASHION_DIR,
    MODELS,
    benchmark_parser,
    machine_info,
    report_benchmark,
    require_fashion,
    time_dataset_load,
)
from components.sidebar import POLL_SECONDS
from core import data as core_data
from core.jax_setup import ENV_VAR as JAX_CACHE_ENV
from core.jax_setup import enable_compilation_cache
from core.runs.store import ENV_VAR as RUNS_DIR_ENV
from core.spec import ModelSpec
from core.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
#: How often the in-app run reruns the whole script while it trains: as often as the page's
#: fragments (live panel and sidebar) poll, and a full rerun costs more than those two.
POLL_INTERVAL_S = POLL_SECONDS
#: Widths typed in the timed trials: a new one each time, so no cache answers for the page.
BUILD_WIDTHS_FROM = 300
VARIABLES_WIDTHS_FROM = 600
PAGES = {
    "pages/build.py": "Build a model",
    "pages/variables.py": "Look inside the variables",
    "pages/train.py": "Train",
    "pages/results.py": "Predictions",
    "pages/inside.py": "Inside the network",
}
CURVE_STEPS = 150_000
CURVE_STEPS_PER_EPOCH = 468  # 60,000 images at batch 128
TARGETS = {
    "first_step_s": 2.0,
    "width_change_s": 0.3,
    "page_switch_s": 0.2,
    "in_app_vs_headless": 0.9,
    "inside_new_input_s": 0.3,
    "live_views_vs_none": 0.9,
    "peak_rss_bytes": 1.5e9,
}


@dataclass(frozen=True)
class AppBenchmarkSize:
    """``small`` checks that everything works (CI, ~1 minute); ``full`` uses full Fashion-MNIST."""

    name: str
    dataset: str  # what the compile, training and memory measurements train on
    trials: int  # timed repetitions of each interaction
    epochs: int  # of each in-app and headless training run
    repeats: int  # interleaved rounds of in-app and headless training


SIZES = {
    "small": AppBenchmarkSize("small", dataset="sample", trials=2, epochs=2, repeats=1),
    "full": AppBenchmarkSize("full", dataset=f"idx:{FASHION_DIR}", trials=20, epochs=3, repeats=3),
}


def spread(seconds: list[float], target_s: float | None = None) -> dict[str, Any]:
    """Median and 90th percentile of repeated timings; the target is judged on the 90th percentile."""
    summary: dict[str, Any] = {
        "median_s": float(np.median(seconds)),
        "p90_s": float(np.percentile(seconds, 90)),
        "trials_s": seconds,
    }
    if target_s is not None:
        summary |= {"target_s": target_s, "meets_target": summary["p90_s"] < target_s}
    return summary


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM not found in /proc/self/status (Linux only)")


def run_worker(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m benchmarks.app --worker ...`` in a fresh process; its last stdout line is JSON."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.app", *args],
        capture_output=True, text=True, cwd=ROOT, env=env or dict(os.environ), timeout=600,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"worker {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----- 1. compile: time to the first training step -------------------------------------------


def first_step(spec: ModelSpec, dataset: core_data.Dataset) -> dict[str, float]:
    """Seconds from calling ``core.training.train`` to its first finished chunk of steps, in this process.

    That is what a person waits for after pressing Start: ``model.init``, the optimiser state,
    compiling the training and evaluation programs, and the first two steps. ``compile_s`` is
    the engine's own share for the two programs (0 when this process already compiled them).
    """
    enable_compilation_cache()  # as the app does: $FLAX_DASHBOARD_JAX_CACHE
    stop = threading.Event()
    reached: list[float] = []
    tic = time.perf_counter()

    def on_progress(progress) -> None:
        if progress.phase == "training" and not reached:
            reached.append(time.perf_counter() - tic)
            stop.set()

    result = train(spec, TrainConfig(), dataset, on_progress=on_progress, stop=stop)
    return {"first_step_s": reached[0], "compile_s": result.compile_s}


def compile_times(dataset: str) -> dict[str, Any]:
    """Per model: a cold process on a new, empty compilation cache folder, then a warm one on the same folder."""
    report = {}
    for model in MODELS:
        with tempfile.TemporaryDirectory(prefix="flax-dashboard-bench-jax-") as cache:
            env = {**os.environ, JAX_CACHE_ENV: cache}
            args = ["--worker", "first-step", "--model", model, "--dataset", dataset]
            cold = run_worker(args, env)
            cached_files = sum(1 for path in Path(cache).rglob("*") if path.is_file())
            warm = run_worker(args, env)
        report[model] = {
            "description": MODELS[model].describe(),
            "cold": cold,
            "warm": warm,
            "cache_files": cached_files,
            "target_s": TARGETS["first_step_s"],
            "meets_target": max(cold["first_step_s"], warm["first_step_s"]) < TARGETS["first_step_s"],
        }
    return report


# ----- 3. interactions through AppTest --------------------------------------------------------


def open_app():
    """A new visitor on ``app.py`` (the Build page), once the app's background warm-up has finished."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=300)
    at.run()
    check_page(at, "pages/build.py")
    for thread in threading.enumerate():
        if thread.name == "warm-up":  # components.resources.process_setup's compile of the default models
            thread.join()
    return at


def check_page(at, path: str) -> None:
    """Fail loudly when a run raised or did not draw the expected page: a timing of an error page is no timing."""
    if at.exception:
        error = at.exception[0]  # the whole stack: the page's message is redacted (showErrorDetails = "none")
        raise RuntimeError(f"{path} raised: {error.message}\n" + "\n".join(error.stack_trace))
    if not any(PAGES[path] in title.value for title in at.title):
        raise RuntimeError(f"expected the page {path}, got titles {[t.value for t in at.title]}")


def timed_run(at, path: str) -> float:
    tic = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - tic
    check_page(at, path)
    return seconds


def default_mlp(first_width: int) -> ModelSpec:
    """The default MLP (784-512-256-10) with another width for its first hidden layer."""
    return ModelSpec.mlp((first_width, *(layer.width for layer in MODELS["mlp"].hidden[1:])))


def build_width_change(trials: int) -> list[float]:
    """Type a new width of the first layer on the Build page: seconds until the page with the new table is drawn.

    The first change is a warm-up and is not counted.
    """
    from testkit.support import metric

    at = open_app()
    seconds = []
    for width in range(BUILD_WIDTHS_FROM, BUILD_WIDTHS_FROM + trials + 1):
        at.number_input(key="build.hidden.0.width.v0").set_value(width)
        seconds.append(timed_run(at, "pages/build.py"))
        spec = default_mlp(width)
        first_layer_weights = at.dataframe[0].value["weights"].iloc[0]
        if metric(at, "Parameters") != f"{spec.parameter_count:,}" or first_layer_weights != spec.input_size * width:
            raise RuntimeError(f"the Build page did not show the model with width {width}")
    return seconds[1:]


def variables_width_change(trials: int) -> tuple[list[float], list[float]]:
    """With the Variables page open (Tree tab), a new width arrives through ``AppState.set_spec`` (the
    layer editor's own call; its widgets are on the Build page). Returns the seconds of the rerun
    that redraws the page (the values, or the notice while ``model.init`` compiles in the
    background), and the seconds from the edit until the page shows the new model's values.
    The first change is a warm-up and is not counted."""
    from core import models
    from testkit.support import state

    at = open_app()
    at.switch_page("pages/variables.py")
    timed_run(at, "pages/variables.py")
    redraws, until_values = [], []
    for width in range(VARIABLES_WIDTHS_FROM, VARIABLES_WIDTHS_FROM + trials + 1):
        spec = default_mlp(width)
        tic = time.perf_counter()
        state(at).set_spec(spec, from_editor=True)
        redraws.append(timed_run(at, "pages/variables.py"))
        if not any(f"**{spec.parameter_count:,} parameters**" in m.value for m in at.markdown):
            models.prepare_init(spec).result()  # what the page's refresh waits for
            timed_run(at, "pages/variables.py")
        until_values.append(time.perf_counter() - tic)
        if not any(f"**{spec.parameter_count:,} parameters**" in m.value for m in at.markdown):
            raise RuntimeError(f"the Variables page did not show the model with width {width}")
    return redraws[1:], until_values[1:]


def page_switches(trials: int) -> dict[str, list[float]]:
    """Seconds of ``switch_page(...).run()`` per page, going Build -> Variables -> Train -> Results and
    around again ``trials`` times, after one uncounted warm-up pass."""
    at = open_app()
    seconds: dict[str, list[float]] = {path: [] for path in PAGES}
    for _ in range(trials + 1):
        for path in PAGES:
            at.switch_page(path)
            seconds[path].append(timed_run(at, path))
    return {path: values[1:] for path, values in seconds.items()}


def page_switches_while_training(trials: int, dataset: str) -> list[float]:
    """Seconds of ``switch_page(...).run()`` (all pages, as ``page_switches``) while the default MLP
    and autoencoder train in two background jobs, the most the app runs at once by default; the
    browser test of four visitors checks only that the pages still switch then."""
    from core.runs.jobs import TrainingJob

    data = core_data.load_dataset(dataset)
    jobs = [TrainingJob(MODELS[name], TrainConfig(epochs=1000), data).start() for name in ("mlp", "autoencoder")]
    try:
        while any(job.snapshot().status in ("queued", "compiling") for job in jobs):
            time.sleep(0.1)
        at = open_app()
        seconds = []
        for _ in range(trials + 1):
            for path in PAGES:
                at.switch_page(path)
                seconds.append(timed_run(at, path))
        if not all(job.snapshot().status.active for job in jobs):  # "evaluating" between epochs is still training
            raise RuntimeError(f"a training ended while the pages were timed: {[j.snapshot().status for j in jobs]}")
        return seconds[len(PAGES) :]  # the first pass is a warm-up
    finally:
        for job in jobs:
            job.stop()
        for job in jobs:
            job.join()


def inside_new_input(trials: int) -> dict[str, list[float]]:
    """Per default model, untrained (the same layers and arrays as trained): on the Inside page, seconds
    of the rerun after "Another image", which redraws every layer, the diagram and the chosen unit.
    The first pick is a warm-up and is not counted."""
    from components.state import DEFAULT_SPECS
    from testkit.support import state

    seconds: dict[str, list[float]] = {}
    for kind, spec in DEFAULT_SPECS.items():
        at = open_app()
        state(at).set_spec(spec)
        at.switch_page("pages/inside.py")
        timed_run(at, "pages/inside.py")
        picks = []
        for _ in range(trials + 1):
            before = state(at).inside_image
            while state(at).inside_image == before:  # a random pick may draw the same image: a new one is timed
                at.button(key="inside.another").click()
                picks.append(timed_run(at, "pages/inside.py"))
        seconds[kind] = picks[1:]
    return seconds


def interaction_latencies(trials: int, dataset: str) -> dict[str, Any]:
    inside_picks = inside_new_input(trials)
    switches = page_switches(trials)
    every_switch = [value for values in switches.values() for value in values]
    variables_redraw, variables_values = variables_width_change(trials)
    return {
        "build_width_change": spread(build_width_change(trials), TARGETS["width_change_s"]),
        "variables_width_change": spread(variables_redraw, TARGETS["width_change_s"]),
        "variables_values_shown": spread(variables_values),
        "page_switch": spread(every_switch, TARGETS["page_switch_s"])
        | {"pages": {path: spread(values) for path, values in switches.items()}},
        "page_switch_two_trainings": spread(page_switches_while_training(trials, dataset)) | {"dataset": dataset},
        "inside_new_input": {
            kind: spread(values, TARGETS["inside_new_input_s"]) for kind, values in inside_picks.items()
        },
    }


# ----- 4 and 5. training inside the app against headless, and its memory -------------------


def train_in_app(dataset: str, epochs: int, live_views: bool = True) -> dict[str, Any]:
    """Train the default MLP the way a person does: Train page, data, epochs, Start training; then
    rerun the script every ``POLL_INTERVAL_S`` until the job ends, as a browser's polling would.
    ``live_views``: the page's "Watch the model learn" views (on by default) are drawn on each rerun.

    Returns the job's own images/s (compile and evaluation excluded, like ``core.training.train``).
    """
    from testkit.support import button, state, text_input

    at = open_app()
    state(at).train.watch_training = live_views
    at.switch_page("pages/train.py")
    timed_run(at, "pages/train.py")
    if dataset.startswith("idx:"):
        at.radio(key="train.dataset").set_value("idx").run()
        text_input(at, "Folder").set_value(dataset.removeprefix("idx:")).run()
    at.number_input(key="train.epochs").set_value(epochs)
    button(at, "Start training").click()
    timed_run(at, "pages/train.py")
    run = state(at).runs[-1]
    if run.dataset != dataset or run.spec != MODELS["mlp"] or run.config.epochs != epochs:
        raise RuntimeError(f"the Train page started {run.label}, not the default MLP on {dataset}")
    polls: list[float] = []
    while not polls or run.job.alive:  # at least once: a short run may end before the first poll
        time.sleep(POLL_INTERVAL_S)
        polls.append(timed_run(at, "pages/train.py"))
    run.job.join()
    if run.job.result is None or run.job.result.status != "finished":
        raise RuntimeError(f"in-app training ended as {run.status}: {run.job.snapshot().message}")
    result = run.job.result
    return {"samples_per_s": result.samples_per_s, "steps": result.steps, "polls": len(polls), "poll_s": spread(polls)}


def train_headless(dataset: str, epochs: int) -> dict[str, Any]:
    result = train(MODELS["mlp"], TrainConfig(epochs=epochs), core_data.load_dataset(dataset))
    return {"samples_per_s": result.samples_per_s, "steps": result.steps}


def live_views_rerun_cost(trials: int) -> dict[str, Any]:
    """Per default model, after one short in-app run (the live views then show the finished model, with
    the arrays of a running one): the Train page's rerun with "Watch the model learn" on and off,
    alternating, ``2 * trials`` reruns each. The difference of the medians is what the live views add
    to each poll; per second of polling, that is the share of one core they take from training."""
    from components.state import DEFAULT_SPECS
    from testkit.support import button, state, wait_for_training

    costs: dict[str, Any] = {}
    for kind, spec in DEFAULT_SPECS.items():
        at = open_app()
        state(at).set_spec(spec)
        at.switch_page("pages/train.py")
        timed_run(at, "pages/train.py")
        at.number_input(key="train.epochs").set_value(1)
        button(at, "Start training").click()
        timed_run(at, "pages/train.py")
        wait_for_training(at)
        reruns: dict[bool, list[float]] = {True: [], False: []}
        for i in range(4 * trials + 2):
            watch = i % 2 == 0
            at.session_state["train.watch"] = watch  # the switch itself, as a click on it would set it
            seconds = timed_run(at, "pages/train.py")
            if any(m.value.startswith("#### The model after") for m in at.markdown) != watch:
                raise RuntimeError(f"the live views of the {kind} did not follow their switch")
            if i >= 2:  # one warm-up rerun of each
                reruns[watch].append(seconds)
        # the difference is printed, not stored: on a busy machine it can come out below 0
        costs[kind] = {"on": spread(reruns[True]), "off": spread(reruns[False])}
    return costs


def training_in_app_vs_headless(size: AppBenchmarkSize) -> dict[str, Any]:
    """Both in this process, interleaved (the order alternates each round), best round of each."""
    candidates: dict[str, Callable[[], dict[str, Any]]] = {
        "headless": lambda: train_headless(size.dataset, size.epochs),
        "in_app": lambda: train_in_app(size.dataset, size.epochs),
        "in_app_no_live_views": lambda: train_in_app(size.dataset, size.epochs, live_views=False),
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in candidates}
    for round_ in range(size.repeats):
        for name in sorted(candidates, reverse=round_ % 2 == 1):
            runs[name].append(candidates[name]())
    best = {name: max(run["samples_per_s"] for run in candidate) for name, candidate in runs.items()}
    ratio = best["in_app"] / best["headless"]
    live_ratio = best["in_app"] / best["in_app_no_live_views"]
    return {
        "model": MODELS["mlp"].describe(),
        "dataset": size.dataset,
        "epochs": size.epochs,
        "poll_interval_s": POLL_INTERVAL_S,
        "headless_samples_per_s": best["headless"],
        "in_app_samples_per_s": best["in_app"],
        "in_app_vs_headless": ratio,
        "target_ratio": TARGETS["in_app_vs_headless"],
        "meets_target": ratio >= TARGETS["in_app_vs_headless"],
        "in_app_no_live_views_samples_per_s": best["in_app_no_live_views"],
        "live_views_vs_none": live_ratio,
        "live_views_target_ratio": TARGETS["live_views_vs_none"],
        "live_views_meet_target": live_ratio >= TARGETS["live_views_vs_none"],
        "rounds": runs,
    }


def peak_memory_in_app(size: AppBenchmarkSize) -> dict[str, Any]:
    """A fresh process that opens the app and trains the default MLP in it once: its VmHWM at the end."""
    worker = run_worker(["--worker", "in-app", "--dataset", size.dataset, "--epochs", str(size.epochs)])
    return {
        "dataset": size.dataset,
        "epochs": size.epochs,
        "peak_rss_bytes": worker["peak_rss_bytes"],
        "samples_per_s": worker["samples_per_s"],
        "target_bytes": TARGETS["peak_rss_bytes"],
        "meets_target": worker["peak_rss_bytes"] < TARGETS["peak_rss_bytes"],
    }


# ----- 6. a long loss curve -------------------------------------------------------------------


def long_loss_curve(steps: int = CURVE_STEPS, repeats: int = 5) -> dict[str, Any]:
    """``components.figures.loss_figure`` for one run of ``steps`` step losses and an epoch every 468 steps."""
    from components.figures import MAX_CURVE_POINTS, Curve, loss_figure

    rng = np.random.default_rng(0)
    losses = (2.3 * np.exp(-np.arange(steps) / 20_000) + 0.1 * rng.random(steps)).astype(np.float32)
    epoch_steps = list(range(CURVE_STEPS_PER_EPOCH, steps + 1, CURVE_STEPS_PER_EPOCH))
    test_losses = [float(losses[step - 1]) for step in epoch_steps]
    curve = Curve("run 1", losses, epoch_steps, test_losses, [0.9] * len(epoch_steps))
    build_s = []
    for _ in range(repeats):
        tic = time.perf_counter()
        figure = loss_figure([curve], "cross-entropy")
        build_s.append(time.perf_counter() - tic)
    tic = time.perf_counter()
    json_bytes = len(figure.to_json().encode())
    to_json_s = time.perf_counter() - tic
    points = max(len(trace.x) for trace in figure.data)
    return {
        "steps": steps,
        "build_s": float(np.median(build_s)),
        "to_json_s": to_json_s,
        "json_bytes": json_bytes,
        "max_points_per_trace": points,
        "points_limit": MAX_CURVE_POINTS,
        "meets_target": points <= MAX_CURVE_POINTS,
    }


# ----- running and reporting ------------------------------------------------------------------


def run_benchmark(size: AppBenchmarkSize) -> dict[str, Any]:
    """Every measurement of one run, as JSON-ready data. Finished runs are saved to a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="flax-dashboard-bench-runs-") as runs_dir:
        os.environ[RUNS_DIR_ENV] = runs_dir  # read by core.runs.store and by the worker processes
        _, load = time_dataset_load(FASHION_DIR)
        return {
            "machine": machine_info(),
            "size": asdict(size),
            "targets": TARGETS,
            "dataset_load": load,
            "compile": compile_times(size.dataset),
            "interactions": interaction_latencies(size.trials, size.dataset),
            "training": training_in_app_vs_headless(size),
            "live_views": live_views_rerun_cost(size.trials),
            "memory": peak_memory_in_app(size),
            "loss_curve": long_loss_curve(),
        }


def verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


def format_report(report: dict[str, Any]) -> str:
    machine, size, targets = report["machine"], report["size"], report["targets"]
    load, interactions = report["dataset_load"], report["interactions"]
    training, memory, curve = report["training"], report["memory"], report["loss_curve"]
    live = report["live_views"]
    lines = [
        f"machine: {machine['cpu']}, {machine['cpu_count']} cores ({machine['usable_cores']} usable), "
        f"devices {', '.join(machine['devices'])}",
        "versions: " + ", ".join(f"{name} {version}" for name, version in machine["versions"].items()),
        f"size: {size['name']} (data {size['dataset']}, {size['trials']} timed trials per interaction, "
        f"{size['epochs']} epoch(s) x best of {size['repeats']} training rounds)",
        f"dataset load (full Fashion-MNIST, {FASHION_DIR}): cold {load['cold_s']:.3f} s, "
        f"cached {load['cached_s'] * 1e3:.3f} ms",
        "",
        f"time to the first training step (fresh process; cold = empty compilation cache), target < "
        f"{targets['first_step_s']:.1f} s:",
    ]
    for model in report["compile"].values():
        for phase in ("cold", "warm"):
            seconds = model[phase]["first_step_s"]
            lines.append(
                f"  {model['description']:<42}{phase:<6}{seconds:>6.2f} s  (XLA compile {model[phase]['compile_s']:.2f}"
                f" s)  {verdict(seconds < model['target_s'])}"
            )
    lines += ["", "interactions (AppTest, server side only; median / p90 of the trials, target on p90):"]
    labels = {
        "build_width_change": "width change, Build page",
        "variables_width_change": "width change, Variables page open",
        "page_switch": "page switch (all pages)",
    }
    for name, label in labels.items():
        result = interactions[name]
        lines.append(
            f"  {label:<40}{result['median_s'] * 1e3:>7.0f} ms {result['p90_s'] * 1e3:>6.0f} ms  "
            f"target < {result['target_s'] * 1e3:.0f} ms  {verdict(result['meets_target'])}"
        )
    for path, result in interactions["page_switch"]["pages"].items():
        lines.append(f"    to {path:<35}{result['median_s'] * 1e3:>7.0f} ms {result['p90_s'] * 1e3:>6.0f} ms")
    shown = interactions["variables_values_shown"]
    lines.append(
        f"  {'  ... until the new values are shown':<40}{shown['median_s'] * 1e3:>7.0f} ms "
        f"{shown['p90_s'] * 1e3:>6.0f} ms  (model.init compiled once per new shape, in the background; no target)"
    )
    busy = interactions["page_switch_two_trainings"]
    lines.append(
        f"  {'page switch, two trainings running':<40}{busy['median_s'] * 1e3:>7.0f} ms "
        f"{busy['p90_s'] * 1e3:>6.0f} ms  (default MLP and autoencoder on {busy['dataset']}; no target)"
    )
    for kind, result in interactions["inside_new_input"].items():
        lines.append(
            f"  {'Inside page, another input (' + kind + ')':<40}{result['median_s'] * 1e3:>7.0f} ms "
            f"{result['p90_s'] * 1e3:>6.0f} ms  target < {result['target_s'] * 1e3:.0f} ms  "
            f"{verdict(result['meets_target'])}"
        )
    in_app_runs = training["rounds"]["in_app"]
    lines += [
        "",
        f"training {training['model']} on {training['dataset']}, {training['epochs']} epoch(s), best of "
        f"{len(in_app_runs)} interleaved rounds:",
        f"  headless core.training.train   {training['headless_samples_per_s']:>9,.0f} images/s  (rounds: "
        + ", ".join(f"{run['samples_per_s']:,.0f}" for run in training["rounds"]["headless"])
        + ")",
        f"  in the app (rerun / {training['poll_interval_s']:g} s) {training['in_app_samples_per_s']:>9,.0f} images/s  "
        "(rounds: "
        + ", ".join(f"{run['samples_per_s']:,.0f}" for run in in_app_runs)
        + "; median rerun "
        + ", ".join(f"{run['poll_s']['median_s'] * 1e3:.0f} ms" for run in in_app_runs)
        + ")",
        f"  in-app / headless {training['in_app_vs_headless']:.2f}  target >= {training['target_ratio']:.2f}  "
        f"{verdict(training['meets_target'])}",
        f"  in the app, live views off     {training['in_app_no_live_views_samples_per_s']:>9,.0f} images/s  "
        "(rounds: "
        + ", ".join(f"{run['samples_per_s']:,.0f}" for run in training["rounds"]["in_app_no_live_views"])
        + ")",
        f"  live views on / off {training['live_views_vs_none']:.2f}  target >= "
        f"{training['live_views_target_ratio']:.2f}  {verdict(training['live_views_meet_target'])}",
        "  what the live views add to each poll of the Train page (median rerun on - off):",
        *(
            f"    {kind:<12}{cost['on']['median_s'] * 1e3:>6.0f} ms on, {cost['off']['median_s'] * 1e3:>4.0f} ms off: "
            f"{added * 1e3:+.0f} ms per {POLL_INTERVAL_S:g} s poll = {added / POLL_INTERVAL_S:.1%} of one core"
            for kind, cost in live.items()
            for added in [cost["on"]["median_s"] - cost["off"]["median_s"]]
        ),
        "",
        f"peak memory of a fresh app process training it ({memory['dataset']}): "
        f"{memory['peak_rss_bytes'] / 1e9:.2f} GB VmHWM  target < {memory['target_bytes'] / 1e9:.1f} GB  "
        f"{verdict(memory['meets_target'])}  ({memory['samples_per_s']:,.0f} images/s)",
        f"loss curve of {curve['steps']:,} steps: built in {curve['build_s'] * 1e3:.0f} ms, to_json "
        f"{curve['to_json_s'] * 1e3:.0f} ms, {curve['json_bytes'] / 1e3:.0f} kB JSON, at most "
        f"{curve['max_points_per_trace']:,} points per trace  target <= {curve['points_limit']:,}  "
        f"{verdict(curve['meets_target'])}",
    ]
    return "\n".join(lines)


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement that needs a process of its own; prints its JSON on the last line of stdout."""
    if args.worker == "first-step":
        return first_step(MODELS[args.model], core_data.load_dataset(args.dataset))
    result = train_in_app(args.dataset, args.epochs)
    return {"samples_per_s": result["samples_per_s"], "peak_rss_bytes": peak_rss_bytes()}


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m benchmarks.app", __doc__, "bundled sample, 5 trials (CI)")
    parser.add_argument("--worker", choices=("first-step", "in-app"), help=argparse.SUPPRESS)
    parser.add_argument("--model", choices=tuple(MODELS), default="mlp", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", default="sample", help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return
    require_fashion(parser)
    report_benchmark(args, SIZES, run_benchmark, format_report)


if __name__ == "__main__":
    main()
