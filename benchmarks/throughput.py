"""Training throughput of the project's engine against a plain flax loop, PyTorch and the matmul ceiling.

``python -m benchmarks.throughput [--size small|full] [--json out.json]`` measures, in one run:

- how long full Fashion-MNIST takes to load from Debian's IDX files, cold and cached;
- the machine's ceiling: float32 GFLOP/s of a jitted 2048x2048 matmul (median of several runs);
- training samples/s of the default MLP and autoencoder at batch 128 with ``core.training.train``
  (without and with augmentation), with a per-batch flax+optax loop written the way flax's
  ``examples/mnist`` does it, and with PyTorch eager when torch is importable.

The machine is shared and noisy, and noise only ever slows a run down, so the ceiling and
every training candidate are measured in ``repeats`` interleaved rounds and the best round
of each is reported (every round is listed too).
It prints ratios rather than asserting speeds: timings stay out of the tests, which a loaded machine would flake.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state

from core import data as core_data
from core import models
from core.data import Dataset, make_dataset
from core.spec import Layer, ModelSpec
from core.tasks import task_of
from core.training import TrainConfig, train, train_stack

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
MATMUL_SIZE = 2048
#: Reconstruction loss of the autoencoder, as in TrainConfig's default.
LOSS_KIND = "mse"
MODELS: dict[str, ModelSpec] = {
    "mlp": ModelSpec.mlp((512, 256)),
    "autoencoder": ModelSpec.autoencoder((256, 64, 16), (64, 256)),
}


@dataclass(frozen=True)
class BenchmarkSize:
    """How much work one benchmark run does: ``small`` checks it works (CI), ``full`` gives stable numbers."""

    name: str
    train_images: int | None  # None: the whole training split
    test_images: int | None
    epochs: int
    repeats: int
    matmul_runs: int


SIZES = {
    "small": BenchmarkSize("small", train_images=6_000, test_images=1_000, epochs=1, repeats=2, matmul_runs=5),
    "full": BenchmarkSize("full", train_images=None, test_images=None, epochs=3, repeats=3, matmul_runs=10),
}


@dataclass(frozen=True)
class Run:
    """One timed training run: steady-state samples/s and the one-off start-up before it (compile, warm-up)."""

    samples_per_s: float
    startup_s: float
    images: int  # trained in the timed part: a ratio compares candidates that trained the same number


def summarize(runs: list[Run], flops_per_sample: int, ceiling_gflops: float) -> dict[str, Any]:
    """One candidate's best run (noise only ever slows a run down), its GFLOP/s and share of the ceiling.

    The start-up is the first run's: later runs reuse the compiled program.
    """
    best = max(run.samples_per_s for run in runs)
    gflops = best * flops_per_sample / 1e9
    return {
        "samples_per_s": best,
        "startup_s": runs[0].startup_s,
        "gflops": gflops,
        "ceiling_fraction": gflops / ceiling_gflops,
        "runs_samples_per_s": [run.samples_per_s for run in runs],
        "runs_images": [run.images for run in runs],
    }


# ----- machine, data, ceiling ---------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """CPU model, core counts, library versions and JAX devices: what the numbers depend on."""
    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "versions": {name: metadata.version(name) for name in ("jax", "jaxlib", "flax", "optax", "numpy")},
        "devices": [str(device) for device in jax.devices()],
    }


def time_dataset_load(folder: str) -> tuple[Dataset, dict[str, float]]:
    """Load the IDX folder twice: cold (parse + decompress, OS file cache permitting) and cached."""
    core_data._load_idx_cached.cache_clear()
    tic = time.perf_counter()
    dataset = core_data.load_dataset(f"idx:{folder}")
    cold = time.perf_counter() - tic
    tic = time.perf_counter()
    core_data.load_dataset(f"idx:{folder}")
    cached = time.perf_counter() - tic
    return dataset, {"cold_s": cold, "cached_s": cached}


def subset(dataset: Dataset, size: BenchmarkSize) -> Dataset:
    """The first images of each split, as ``size`` asks (the whole dataset for ``full``)."""
    if size.train_images is None and size.test_images is None:
        return dataset
    train_n, test_n = size.train_images, size.test_images
    return make_dataset(
        f"{dataset.name}[:{train_n}]",
        f"first {train_n:,} train / {test_n:,} test images of {dataset.name}",
        dataset.class_names,
        (dataset.train_images[:train_n], dataset.train_labels[:train_n]),
        (dataset.test_images[:test_n], dataset.test_labels[:test_n]),
    )


def matmul_gflops(n: int, runs: int) -> float:
    """Median float32 GFLOP/s of ``runs`` jitted (n, n) @ (n, n) products: the ceiling for Dense layers.

    The first call of a process compiles; a warm-up product keeps that out of the timings.
    """
    a, b = jax.random.normal(jax.random.key(0), (2, n, n), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    jax.block_until_ready(matmul(a, b))
    seconds = []
    for _ in range(runs):
        tic = time.perf_counter()
        jax.block_until_ready(matmul(a, b))
        seconds.append(time.perf_counter() - tic)
    return 2 * n**3 / statistics.median(seconds) / 1e9


# ----- candidate 1: the project's engine ------------------------------------------------------


def engine_run(spec: ModelSpec, dataset: Dataset, epochs: int, augment: bool) -> Run:
    """``core.training.train``: its samples/s already excludes compile and per-epoch evaluation."""
    config = TrainConfig(epochs=epochs, batch_size=BATCH_SIZE, augment=augment, learning_rate=LEARNING_RATE)
    result = train(spec, config, dataset)
    return Run(result.samples_per_s, result.compile_s, result.steps * config.batch_size)


def with_batchnorm_and_dropout(spec: ModelSpec) -> ModelSpec:
    """``spec`` with BatchNorm and Dropout (rate 0.2) after every hidden Dense layer (not after a code)."""

    def extended(layers: tuple[Layer, ...], keep_last: bool) -> tuple[Layer, ...]:
        out: list[Layer] = []
        for i, layer in enumerate(layers):
            out.append(layer)
            if not (keep_last and i == len(layers) - 1):
                out += [Layer.batchnorm(), Layer.dropout(0.2)]
        return tuple(out)

    if spec.kind == "mlp":
        return spec.replace(hidden=extended(spec.hidden, keep_last=False))
    return spec.replace(encoder=extended(spec.encoder, keep_last=True), decoder=extended(spec.decoder, keep_last=False))


# ----- candidate 2: a plain flax + optax loop (flax examples/mnist style) --------------------


@lru_cache(maxsize=8)
def plain_train_step(spec: ModelSpec) -> Callable:
    """A ``@jax.jit`` step (state, images, labels) -> (state, loss) with the engine's loss, one per model."""

    @jax.jit
    def step(state: train_state.TrainState, images: jax.Array, labels: jax.Array):
        task, model = task_of(spec), models.build_model(spec)
        loss, grads = jax.value_and_grad(task.mean_loss, argnums=1)(model, state.params, images, labels, LOSS_KIND)
        return state.apply_gradients(grads=grads), loss

    return step


def plain_batches(dataset: Dataset, rng: np.random.Generator):
    """One epoch of host batches: numpy shuffle, fancy-index slices, float32/255 on the host; last partial dropped."""
    steps = dataset.num_train // BATCH_SIZE
    order = rng.permutation(dataset.num_train)[: steps * BATCH_SIZE].reshape(steps, BATCH_SIZE)
    for idx in order:
        yield dataset.train_images[idx].astype(np.float32) / 255.0, dataset.train_labels[idx]


def plain_flax_run(spec: ModelSpec, dataset: Dataset, epochs: int) -> Run:
    """Per-batch jitted steps fed from numpy; the first step (compile) is timed apart, then whole epochs."""
    model = models.build_model(spec)
    params = models.init_variables(spec)["params"]
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(LEARNING_RATE))
    step = plain_train_step(spec)
    rng = np.random.default_rng(0)
    tic = time.perf_counter()
    images, labels = next(plain_batches(dataset, rng))
    state, _ = jax.block_until_ready(step(state, images, labels))
    startup = time.perf_counter() - tic
    tic = time.perf_counter()
    for _ in range(epochs):
        for images, labels in plain_batches(dataset, rng):
            state, _ = step(state, images, labels)
    jax.block_until_ready(state)
    samples = epochs * (dataset.num_train // BATCH_SIZE) * BATCH_SIZE
    return Run(samples / (time.perf_counter() - tic), startup, samples)


# ----- candidate 3: PyTorch eager -------------------------------------------------------------


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_model(spec: ModelSpec) -> Any:
    """``nn.Linear`` stack with the spec's Dense shapes and activations (the AE ends in a sigmoid)."""
    from torch import nn

    activations = {"relu": nn.ReLU, "linear": nn.Identity, "sigmoid": nn.Sigmoid}
    layers: list[Any] = [nn.Flatten()]
    for dense in models.dense_layers(spec):
        layers += [nn.Linear(dense.inputs, dense.outputs), activations[dense.activation]()]
    return nn.Sequential(*layers)


def torch_run(spec: ModelSpec, dataset: Dataset, epochs: int) -> Run:
    """Eager PyTorch on all cores, fed like the plain flax loop; the first step is timed apart."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    model = torch_model(spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)

    def step(images: np.ndarray, labels: np.ndarray) -> None:
        x = torch.from_numpy(images)
        out = model(x)
        if spec.kind == "mlp":
            loss = F.cross_entropy(out, torch.from_numpy(labels).long())
        else:
            loss = F.mse_loss(out, x.reshape(x.shape[0], -1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    rng = np.random.default_rng(0)
    tic = time.perf_counter()
    step(*next(plain_batches(dataset, rng)))
    startup = time.perf_counter() - tic
    tic = time.perf_counter()
    for _ in range(epochs):
        for images, labels in plain_batches(dataset, rng):
            step(images, labels)
    samples = epochs * (dataset.num_train // BATCH_SIZE) * BATCH_SIZE
    return Run(samples / (time.perf_counter() - tic), startup, samples)


# ----- running and reporting ------------------------------------------------------------------


def candidates(spec: ModelSpec, dataset: Dataset, epochs: int, with_torch: bool) -> dict[str, Callable[[], Run]]:
    """The training runs compared on one model, by name, in the order they are interleaved."""
    runs: dict[str, Callable[[], Run]] = {
        "engine": lambda: engine_run(spec, dataset, epochs, augment=False),
        "engine_augment": lambda: engine_run(spec, dataset, epochs, augment=True),
        "engine_layers": lambda: engine_run(with_batchnorm_and_dropout(spec), dataset, epochs, augment=False),
        "plain_flax": lambda: plain_flax_run(spec, dataset, epochs),
    }
    if with_torch:
        runs["torch"] = lambda: torch_run(spec, dataset, epochs)
    return runs


SEEDS_SPEC = ModelSpec.mlp((128,))
SEEDS = (0, 1, 2, 3)


def seeds_run(dataset: Dataset, epochs: int) -> dict[str, float]:
    """The seeds of one sweep point: images/s of all of them trained as one stack of the engine,
    and of the same models trained one after another (compile and evaluation excluded), and the
    images each way trained (all the seeds' together)."""
    config = TrainConfig(epochs=epochs, batch_size=BATCH_SIZE, augment=False, learning_rate=LEARNING_RATE)
    members = [(SEEDS_SPEC.replace(seed=s), replace(config, seed=s)) for s in SEEDS]
    together = train_stack(members, dataset)
    alone = [train(spec, member_config, dataset) for spec, member_config in members]
    return {
        "together_samples_per_s": len(SEEDS) * together[0].samples_per_s,
        "one_by_one_samples_per_s": len(SEEDS) / sum(1 / r.samples_per_s for r in alone),
        "together_images": sum(r.steps for r in together) * BATCH_SIZE,
        "one_by_one_images": sum(r.steps for r in alone) * BATCH_SIZE,
    }


def model_report(spec: ModelSpec, runs: dict[str, list[Run]], ceiling: float) -> dict[str, Any]:
    """One model's candidates against the ceiling, and the ratios between their best runs."""
    flops = 6 * spec.parameter_count
    results = {name: summarize(candidate_runs, flops, ceiling) for name, candidate_runs in runs.items()}
    best = {name: result["samples_per_s"] for name, result in results.items()}
    ratios = {
        "engine/plain_flax": best["engine"] / best["plain_flax"],
        "engine_augment/engine": best["engine_augment"] / best["engine"],
        "engine_layers/engine": best["engine_layers"] / best["engine"],
    }
    if "torch" in best:
        ratios["engine/torch"] = best["engine"] / best["torch"]
    return {
        "description": spec.describe(),
        "parameters": spec.parameter_count,
        "flops_per_sample": flops,
        "candidates": results,
        "torch": "measured" if "torch" in best else "torch not installed",
        "ratios": ratios,
    }


CANDIDATE_LABELS = {
    "engine": "engine (core.training)",
    "engine_augment": "engine, augment=True",
    "engine_layers": "engine, BatchNorm + Dropout",
    "plain_flax": "plain flax+optax loop",
    "torch": "PyTorch eager",
}


def format_report(report: dict[str, Any]) -> str:
    """The printed table: machine, data load, ceiling, then one block of candidates and ratios per model."""
    machine, load, size = report["machine"], report["dataset_load"], report["size"]
    lines = [
        f"machine: {machine['cpu']}, {machine['cpu_count']} cores ({machine['usable_cores']} usable), "
        f"devices {', '.join(machine['devices'])}",
        "versions: " + ", ".join(f"{name} {version}" for name, version in machine["versions"].items()),
        f"size: {size['name']} ({report['train_images']:,} train images, {size['epochs']} epoch(s), "
        f"batch {BATCH_SIZE}); every figure is the best of {size['repeats']} interleaved rounds",
        f"dataset load (full Fashion-MNIST, {FASHION_DIR}): cold {load['cold_s']:.3f} s, "
        f"cached {load['cached_s'] * 1e3:.3f} ms",
        f"matmul ceiling: {report['matmul']['gflops']:.1f} GFLOP/s (float32 {MATMUL_SIZE}^2 @ {MATMUL_SIZE}^2, "
        f"jax.jit; a round is the median of {size['matmul_runs']}; rounds: "
        + ", ".join(f"{value:.0f}" for value in report["matmul"]["rounds_gflops"])
        + ")",
        "",
        f"{'model / candidate':<32}{'samples/s':>11}{'GFLOP/s':>9}{'ceiling':>9}{'startup s':>11}  runs (samples/s)",
    ]
    for model in report["models"].values():
        lines.append(
            f"{model['description']}  ({model['parameters']:,} params, {model['flops_per_sample']:,} FLOP/sample)"
        )
        for name, result in model["candidates"].items():
            runs = ", ".join(f"{value:,.0f}" for value in result["runs_samples_per_s"])
            lines.append(
                f"  {CANDIDATE_LABELS[name]:<30}{result['samples_per_s']:>11,.0f}{result['gflops']:>9.1f}"
                f"{result['ceiling_fraction']:>9.1%}{result['startup_s']:>11.2f}  {runs}"
            )
        if model["torch"] != "measured":
            lines.append(f"  PyTorch eager: {model['torch']}")
        lines.append("  ratios: " + ", ".join(f"{name} {value:.2f}" for name, value in model["ratios"].items()))
    seeds = report["seeds"]
    lines.append(
        f"{seeds['description']}, one stack (vmap) against one by one: {seeds['together_samples_per_s']:,.0f} "
        f"against {seeds['one_by_one_samples_per_s']:,.0f} images/s, ratio {seeds['together/one_by_one']:.2f}"
    )
    return "\n".join(lines)


def run_benchmark(size: BenchmarkSize) -> dict[str, Any]:
    """Every measurement of one benchmark run, as plain JSON-ready data.

    Each of ``size.repeats`` rounds measures the ceiling and then every candidate on every
    model, so a busy spell on the shared machine hits one round, not one candidate.
    """
    full, load = time_dataset_load(FASHION_DIR)
    dataset = subset(full, size)
    with_torch = torch_available()
    plans = {name: candidates(spec, dataset, size.epochs, with_torch) for name, spec in MODELS.items()}
    runs: dict[str, dict[str, list[Run]]] = {model: {name: [] for name in plan} for model, plan in plans.items()}
    ceilings, seeds = [], []
    for _ in range(size.repeats):
        ceilings.append(matmul_gflops(MATMUL_SIZE, size.matmul_runs))
        for model, plan in plans.items():
            for name, run in plan.items():
                runs[model][name].append(run())
        seeds.append(seeds_run(dataset, size.epochs))
    ceiling = max(ceilings)
    best_seeds = {key: max(round_[key] for round_ in seeds) for key in seeds[0]}
    return {
        "machine": machine_info(),
        "size": asdict(size),
        "train_images": dataset.num_train,
        "batch_size": BATCH_SIZE,
        "statistic": f"best of {size.repeats} interleaved rounds; a matmul round is the median of {size.matmul_runs}",
        "dataset_load": load,
        "matmul": {"n": MATMUL_SIZE, "gflops": ceiling, "rounds_gflops": ceilings},
        "models": {name: model_report(spec, runs[name], ceiling) for name, spec in MODELS.items()},
        "seeds": {
            "description": f"{len(SEEDS)} seeds of {SEEDS_SPEC.describe()}",
            **best_seeds,
            "together/one_by_one": best_seeds["together_samples_per_s"] / best_seeds["one_by_one_samples_per_s"],
            "rounds": seeds,
        },
    }


# ----- command line, shared by every benchmark -----------------------------------------------


def benchmark_parser(prog: str, doc: str, small_help: str) -> argparse.ArgumentParser:
    """The options every benchmark takes: ``--size small|full`` and ``--json FILE``."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    parser.add_argument("--size", choices=("small", "full"), default="full", help=f"small: {small_help}")
    parser.add_argument("--json", type=Path, default=None, help="also write every number to this JSON file")
    return parser


def require_fashion(parser: argparse.ArgumentParser) -> None:
    """Exit 2 with one line when Debian's Fashion-MNIST, which every benchmark reads, is missing."""
    if not Path(FASHION_DIR).is_dir():
        parser.exit(2, f"error: {FASHION_DIR} is missing: apt-get install dataset-fashion-mnist\n")


def write_json(path: Path | None, report: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(report, indent=2) + "\n")


def report_benchmark(args: argparse.Namespace, sizes: dict, run_benchmark, format_report) -> None:
    """The end of every benchmark's ``main``: run it at ``--size``, print it, write ``--json``."""
    report = run_benchmark(sizes[args.size])
    print(format_report(report))
    write_json(args.json, report)


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m benchmarks.throughput", __doc__, "6,000 images, 1 epoch (CI)")
    args = parser.parse_args(argv)
    require_fashion(parser)
    report_benchmark(args, SIZES, run_benchmark, format_report)


if __name__ == "__main__":
    main()
