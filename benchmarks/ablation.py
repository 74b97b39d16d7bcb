"""Which units matter: every unit of a layer switched off alone, in one vmapped call or one call per unit.

``python -m benchmarks.ablation [--size small|full] [--json out.json]`` trains the default MLP
(784-512-256-10) for one epoch on Fashion-MNIST, then scores the held-out images with each unit
of its first hidden layer (512 units) switched off alone, in the same process:

- ``vmapped``: ``core.ablation.unit_importance``, the Inside page's "Which units matter": one
  compiled call, ``jax.vmap`` over the 512 masks (the layers before the switched one are computed
  once, not per mask);
- ``loop``: a Python loop over the units, one ``core.ablation.score`` call per unit (one compiled
  program, reused).

Both are timed after a first call that compiles (its time is printed apart), best of ``repeats``;
the report gives loop / vmapped and checks that both found the same scores. Printed, never asserted.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from benchmarks.throughput import FASHION_DIR, benchmark_parser, machine_info, report_benchmark, require_fashion
from core import ablation, inside
from core import data as core_data
from core.presets import PRESETS
from core.training import TrainConfig, train

DEFAULT_MLP = PRESETS["MNIST classifier (default)"][1]


@dataclass(frozen=True)
class AblationBenchmarkSize:
    name: str
    train_images: int
    held_out: int  # test images scored per mask
    repeats: int


SIZES = {
    "small": AblationBenchmarkSize("small", train_images=6_000, held_out=500, repeats=1),
    "full": AblationBenchmarkSize("full", train_images=60_000, held_out=2_000, repeats=3),
}


def _best_of(repeats: int, work) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        tic = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - tic)
    return best, result


def run_benchmark(size: AblationBenchmarkSize) -> dict[str, Any]:
    dataset = core_data.load_dataset(f"idx:{FASHION_DIR}")
    dataset = core_data.make_dataset(
        "fashion", "Fashion-MNIST", dataset.class_names,
        (dataset.train_images[: size.train_images], dataset.train_labels[: size.train_images]),
        (dataset.test_images, dataset.test_labels),
    )  # fmt: skip
    variables = train(DEFAULT_MLP, TrainConfig(epochs=1), dataset).variables
    held_out = ablation.HeldOut(
        inside.as_inputs(dataset.test_images[: size.held_out]), dataset.test_labels[: size.held_out]
    )
    layer = ablation.switchable_layers(DEFAULT_MLP)[0]

    def vmapped():
        return ablation.unit_importance(DEFAULT_MLP, variables, held_out, layer.path).scores

    def loop():
        off = [ablation.masks_for(DEFAULT_MLP, {layer.path: [unit]}) for unit in range(layer.units)]
        return np.asarray([ablation.score(DEFAULT_MLP, variables, held_out, masks) for masks in off])

    arms = {}
    for name, work in (("vmapped", vmapped), ("loop", loop)):
        first, _ = _best_of(1, work)
        best, found = _best_of(size.repeats, work)
        arms[name] = {"first_call_s": first, "best_s": best, "scores": found.tolist()}
    difference = np.abs(np.asarray(arms["vmapped"]["scores"]) - np.asarray(arms["loop"]["scores"])).max()
    return {
        "size": asdict(size),
        "machine": machine_info(),
        "layer": layer.path,
        "units": layer.units,
        "held_out_images": size.held_out,
        "arms": {name: {k: v for k, v in arm.items() if k != "scores"} for name, arm in arms.items()},
        "loop_over_vmapped": arms["loop"]["best_s"] / arms["vmapped"]["best_s"],
        "largest_score_difference": float(difference),
        "baseline_score": ablation.score(DEFAULT_MLP, variables, held_out, {}),
    }


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"which units matter: {report['units']} units of {report['layer']} switched off one at a time, "
        f"{report['held_out_images']:,} held-out images each (accuracy with all on "
        f"{report['baseline_score']:.1%})",
        f"{'arm':<10}{'first call s':>14}{'best s':>10}",
    ]
    for name, arm in report["arms"].items():
        lines.append(f"{name:<10}{arm['first_call_s']:>14.2f}{arm['best_s']:>10.2f}")
    lines.append(
        f"loop / vmapped: {report['loop_over_vmapped']:.1f}x "
        f"(largest difference between their scores: {report['largest_score_difference']:.2g})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m benchmarks.ablation", __doc__, "6,000 train images, 500 held out (CI)")
    args = parser.parse_args(argv)
    require_fashion(parser)
    report_benchmark(args, SIZES, run_benchmark, format_report)


if __name__ == "__main__":
    main()
