"""``python -m benchmarks [--size small|full] [--json out.json]``: every benchmark in one run.

First ``benchmarks.throughput`` (training speed against a plain flax loop, PyTorch and the matmul
ceiling), then ``benchmarks.cnn`` (the CNN of flax's MNIST example in the engine against a plain
jitted flax loop, batch sizes and image layouts), then ``benchmarks.app`` (compile, interactions,
training inside the app, memory, long curves), then ``benchmarks.sharing`` (many trainings at once:
throughput, fairness, clicks), then
``benchmarks.estimates`` (a sweep's estimate against its real time, alone and shared), then
``benchmarks.first_visit`` (a fresh server's first visitor in Chromium), then
``benchmarks.memory`` (what finished runs keep in a session, with the budget and without), then
``benchmarks.classroom`` (a class of Chromium visitors training at once on the real server), then
``benchmarks.ablation`` (every unit of a layer switched off: one vmapped call against a loop). Each
report is printed as soon as it is measured; ``--json`` writes ``{"throughput": ..., "cnn": ..., "app": ...,
"sharing": ..., "estimates": ..., "first_visit": ..., "memory": ..., "classroom": ..., "ablation": ...}``.
"""

from __future__ import annotations

from benchmarks import ablation, app, classroom, cnn, estimates, first_visit, memory, sharing, throughput


def main(argv: list[str] | None = None) -> None:
    parser = throughput.benchmark_parser("python -m benchmarks", __doc__, "a quick check (CI)")
    args = parser.parse_args(argv)
    throughput.require_fashion(parser)
    reports = {}
    for module in (throughput, cnn, app, sharing, estimates, first_visit, memory, classroom, ablation):
        name = module.__name__.removeprefix("benchmarks.")
        reports[name] = module.run_benchmark(module.SIZES[args.size])
        print(f"===== {module.__name__} --size {args.size} =====")
        print(module.format_report(reports[name]), end="\n\n", flush=True)
    throughput.write_json(args.json, reports)


if __name__ == "__main__":
    main()
