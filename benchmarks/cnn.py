"""Training speed of the CNN of flax's MNIST example: the project's engine against a plain flax loop.

``python -m benchmarks.cnn [--size small|full] [--json out.json]`` measures, in one run (issue 26):

- training images/s of the example CNN (Conv 32 3x3, avg pool, Conv 64 3x3, avg pool, Dense 256,
  Dense 10) at batch 128 with ``core.training.train`` and with a per-batch ``@jax.jit`` flax+optax
  loop (``benchmarks.throughput.plain_flax_run``), and their ratio;
- the engine at batch 32, 128 and 512: which batch size keeps the CPU's convolutions busy;
- the layout: the same CNN's jitted training step written with ``jax.lax.conv_general_dilated`` on
  images stored NHWC (channels last, as flax's ``nn.Conv`` takes them) and NCHW (channels first, as
  PyTorch stores them), to see which layout XLA's CPU convolutions prefer.

Each candidate runs in ``repeats`` interleaved rounds and the best round is reported (noise only ever
slows a run down); speeds are printed, never asserted.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks import throughput
from benchmarks.throughput import BenchmarkSize, Run
from core import costs
from core.data import Dataset
from core.presets import PRESETS
from core.training import TrainConfig, train

MODEL = PRESETS["flax MNIST example (CNN)"][1]
BATCH_SIZES = (32, 128, 512)
LAYOUTS = ("NHWC", "NCHW")
SIZES = {
    "small": BenchmarkSize("small", train_images=2_048, test_images=500, epochs=1, repeats=1, matmul_runs=3),
    "full": BenchmarkSize("full", train_images=12_000, test_images=1_000, epochs=1, repeats=3, matmul_runs=5),
}


def engine_run(dataset: Dataset, epochs: int, batch_size: int) -> Run:
    """``core.training.train`` of the example CNN (no augmentation, as the plain loop)."""
    config = TrainConfig(epochs=epochs, batch_size=batch_size, augment=False, learning_rate=throughput.LEARNING_RATE)
    result = train(MODEL, config, dataset)
    return Run(result.samples_per_s, result.compile_s, result.steps * batch_size)


def layout_params(layout: str) -> dict[str, jax.Array]:
    """The example CNN's weights for ``lax.conv_general_dilated``: kernels HWIO for NHWC, OIHW for NCHW."""
    keys = jax.random.split(jax.random.key(0), 4)
    hwio = [jax.random.normal(keys[0], (3, 3, 1, 32)) * 0.3, jax.random.normal(keys[1], (3, 3, 32, 64)) * 0.06]
    kernels = hwio if layout == "NHWC" else [k.transpose(3, 2, 0, 1) for k in hwio]
    return {
        "conv0": kernels[0], "b0": jnp.zeros(32), "conv1": kernels[1], "b1": jnp.zeros(64),
        "dense0": jax.random.normal(keys[2], (3136, 256)) * 0.02, "d0": jnp.zeros(256),
        "dense1": jax.random.normal(keys[3], (256, 10)) * 0.06, "d1": jnp.zeros(10),
    }  # fmt: skip


def layout_logits(params: dict[str, jax.Array], x: jax.Array, layout: str) -> jax.Array:
    """The example CNN on images ``x`` stored in ``layout``."""
    numbers = (layout, "HWIO" if layout == "NHWC" else "OIHW", layout)
    channel = (1, 1, 1, -1) if layout == "NHWC" else (1, -1, 1, 1)
    window = (1, 2, 2, 1) if layout == "NHWC" else (1, 1, 2, 2)
    for conv, bias in (("conv0", "b0"), ("conv1", "b1")):
        x = jax.lax.conv_general_dilated(x, params[conv], (1, 1), "SAME", dimension_numbers=numbers)
        x = jax.nn.relu(x + params[bias].reshape(channel))
        x = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, window, "VALID") / 4
    x = x.reshape((x.shape[0], -1))
    x = jax.nn.relu(x @ params["dense0"] + params["d0"])
    return x @ params["dense1"] + params["d1"]


def layout_run(dataset: Dataset, epochs: int, layout: str) -> Run:
    """A per-batch jitted adam step of the CNN written with ``lax`` in ``layout``, at batch 128."""
    batch = throughput.BATCH_SIZE
    tx = optax.adam(throughput.LEARNING_RATE)
    params = layout_params(layout)
    state = tx.init(params)

    @jax.jit
    def step(params, state, images, labels):
        def loss(params):
            logits = layout_logits(params, images, layout)
            return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

        grads = jax.grad(loss)(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    images = dataset.train_images.astype(np.float32) / 255.0
    images = images if layout == "NHWC" else images.transpose(0, 3, 1, 2)
    steps = dataset.num_train // batch
    tic = time.perf_counter()
    params, state = jax.block_until_ready(step(params, state, images[:batch], dataset.train_labels[:batch]))
    startup = time.perf_counter() - tic
    tic = time.perf_counter()
    for _ in range(epochs):
        for i in range(steps):
            rows = slice(i * batch, (i + 1) * batch)
            params, state = step(params, state, images[rows], dataset.train_labels[rows])
    jax.block_until_ready(params)
    return Run(epochs * steps * batch / (time.perf_counter() - tic), startup, epochs * steps * batch)


def candidates(dataset: Dataset, epochs: int) -> dict[str, Any]:
    """The runs compared, by name, in the order they are interleaved."""
    runs = {f"engine_b{size}": (lambda size=size: engine_run(dataset, epochs, size)) for size in BATCH_SIZES}
    runs["plain_flax"] = lambda: throughput.plain_flax_run(MODEL, dataset, epochs)
    runs.update({f"lax_{layout}": (lambda layout=layout: layout_run(dataset, epochs, layout)) for layout in LAYOUTS})
    return runs


def run_benchmark(size: BenchmarkSize) -> dict[str, Any]:
    """Every measurement of one run, as plain JSON-ready data."""
    full, _ = throughput.time_dataset_load(throughput.FASHION_DIR)
    dataset = throughput.subset(full, size)
    plan = candidates(dataset, size.epochs)
    runs: dict[str, list[Run]] = {name: [] for name in plan}
    ceilings = []
    for _ in range(size.repeats):
        ceilings.append(throughput.matmul_gflops(throughput.MATMUL_SIZE, size.matmul_runs))
        for name, run in plan.items():
            runs[name].append(run())
    ceiling = max(ceilings)
    flops = costs.train_flops(MODEL)
    results = {name: throughput.summarize(candidate, flops, ceiling) for name, candidate in runs.items()}
    best = {name: result["samples_per_s"] for name, result in results.items()}
    ratios = {
        "engine_b128/plain_flax": best["engine_b128"] / best["plain_flax"],
        "engine_b32/engine_b128": best["engine_b32"] / best["engine_b128"],
        "engine_b512/engine_b128": best["engine_b512"] / best["engine_b128"],
        "lax_NCHW/lax_NHWC": best["lax_NCHW"] / best["lax_NHWC"],
    }
    return {
        "machine": throughput.machine_info(),
        "size": asdict(size),
        "train_images": dataset.num_train,
        "description": MODEL.describe(),
        "parameters": MODEL.parameter_count,
        "train_flops_per_sample": flops,
        "matmul": {"gflops": ceiling, "rounds_gflops": ceilings},
        "candidates": results,
        "ratios": ratios,
    }


LABELS = {
    **{f"engine_b{size}": f"engine (core.training), batch {size}" for size in BATCH_SIZES},
    "plain_flax": "plain @jax.jit flax+optax loop, batch 128",
    **{f"lax_{layout}": f"lax conv step, images {layout}, batch 128" for layout in LAYOUTS},
}


def format_report(report: dict[str, Any]) -> str:
    machine, size = report["machine"], report["size"]
    lines = [
        f"machine: {machine['cpu']}, {machine['usable_cores']} usable cores, devices {', '.join(machine['devices'])}",
        f"{report['description']} ({report['parameters']:,} params, {report['train_flops_per_sample']:,} FLOP per "
        f"training image); {report['train_images']:,} Fashion-MNIST train images, {size['epochs']} epoch(s), "
        f"best of {size['repeats']} interleaved round(s); matmul ceiling {report['matmul']['gflops']:.1f} GFLOP/s",
        f"{'candidate':<44}{'images/s':>10}{'GFLOP/s':>9}{'startup s':>11}  runs (images/s)",
    ]
    for name, result in report["candidates"].items():
        runs = ", ".join(f"{value:,.0f}" for value in result["runs_samples_per_s"])
        lines.append(
            f"  {LABELS[name]:<42}{result['samples_per_s']:>10,.0f}{result['gflops']:>9.1f}"
            f"{result['startup_s']:>11.2f}  {runs}"
        )
    lines.append("  ratios: " + ", ".join(f"{name} {value:.2f}" for name, value in report["ratios"].items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = throughput.benchmark_parser("python -m benchmarks.cnn", __doc__, "2,048 images, 1 epoch, 1 round (CI)")
    args = parser.parse_args(argv)
    throughput.require_fashion(parser)
    throughput.report_benchmark(args, SIZES, run_benchmark, format_report)


if __name__ == "__main__":
    main()
