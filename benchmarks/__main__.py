"""``python -m benchmarks [--size small|full] [--json out.json]``: both benchmarks in one run.

First ``benchmarks.throughput`` (training speed against a plain flax loop, PyTorch and the matmul
ceiling), then ``benchmarks.app`` (compile, interactions, training inside the app, memory, long
curves). Each report is printed as soon as it is measured; ``--json`` writes
``{"throughput": ..., "app": ...}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks import app, throughput


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("small", "full"), default="full", help="small: a quick check (CI)")
    parser.add_argument("--json", type=Path, default=None, help="also write every number to this JSON file")
    args = parser.parse_args(argv)
    if not Path(throughput.FASHION_DIR).is_dir():
        parser.exit(2, f"error: {throughput.FASHION_DIR} is missing: apt-get install dataset-fashion-mnist\n")
    reports = {}
    for name, module in (("throughput", throughput), ("app", app)):
        reports[name] = module.run_benchmark(module.SIZES[args.size])
        print(f"===== {module.__name__} --size {args.size} =====")
        print(module.format_report(reports[name]), end="\n\n", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(reports, indent=2) + "\n")


if __name__ == "__main__":
    main()
