"""Command line: ``python -m core train|sweep|evaluate|export ...`` (its arguments: core/cli_arguments.py;
what they describe, the model and the files to write: core/cli_inputs.py).

Progress goes to stderr, the result to stdout as one JSON line, so runs can be scripted
and compared. Any bad argument or input ends with exit code 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from core.cli_arguments import EXIT_BAD_INPUT, build_parser
from core.cli_inputs import UsageError, check_save_path, shortened, spec_and_config
from core.errors import CoreError


def _log(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def cmd_train(args: argparse.Namespace) -> dict:
    from core.data import load_dataset
    from core.training import Status, steps_per_epoch, train
    from core.training.overfitting import describe_subset

    spec, config = spec_and_config(args, args.seed)
    if args.save is not None:
        check_save_path(args.save)
    tic = time.perf_counter()
    dataset = load_dataset(args.dataset, data_dir=args.data_dir)
    spec = spec.for_classes(len(dataset.class_names))  # an MLP gets one output per class (26 for letters)
    steps_per_epoch(config, dataset.num_train)  # a bad batch size fails here, before any output
    _log(f"{dataset.description}; loaded in {time.perf_counter() - tic:.1f}s", args.quiet)
    _log(f"{spec.describe()}: {spec.parameter_count:,} parameters", args.quiet)
    _log(describe_subset(dataset.num_train, config.train_fraction), args.quiet)

    show = functools.partial(_show_progress, quiet=args.quiet)
    stop = threading.Event()
    with stop_on_ctrl_c(stop):
        saved = None
        if args.save is None:
            result = train(spec, config, dataset, on_progress=show, stop=stop)
        else:
            saved = _train_and_save(spec, config, dataset, args.save, show, stop)
            result = saved.result
    if result.status != Status.FINISHED:
        _log(f"{result.status}: {result.reason}", args.quiet)
    summary = _train_summary(result, dataset)
    if saved is not None:
        summary["checkpoint"] = str(saved.path)
        if saved.failure:
            raise UsageError(
                f"the trained model could not be saved to {shortened(args.save)} ({saved.failure}); "
                f"it is saved in {saved.path} instead"
            )
        _log(f"saved {saved.path}", args.quiet)
    if stop.is_set():
        raise Interrupted(summary)
    return summary


def _show_progress(p: Any, quiet: bool) -> None:
    """A training's progress on stderr: compiling, then one line per epoch."""
    from core.training import Phase

    if p.phase == Phase.COMPILING:
        _log("compiling the training step ...", quiet)
    m = p.epoch_metrics[0] if p.epoch_metrics else None
    if m is not None:
        score = f"test acc {m.test_accuracy:.2%}" if m.test_accuracy is not None else f"test loss {m.test_loss:.4f}"
        _log(
            f"epoch {m.epoch}/{p.epochs}  train loss {m.train_loss:.4f}  {score}  "
            f"{p.samples_per_s:,.0f} samples/s  eta {p.eta_s or 0:.0f}s",
            quiet,
        )


def _train_summary(result: Any, dataset: Any) -> dict:
    """The JSON line ``train`` prints: the model, how it trained and its scores."""
    from core.tasks import task_of
    from core.training.overfitting import subset_size

    spec, config = result.spec, result.config
    summary = {
        "model": spec.describe(),
        "params": spec.parameter_count,
        "dataset": dataset.name,
        "status": result.status,
        "epochs": len(result.history.epochs),
        "steps": result.steps,
        "train_loss": result.final_metrics.train_loss if result.final_metrics else None,
        "test_loss": result.test_metrics["loss"],
        "train_images": subset_size(dataset.num_train, config.train_fraction),
        "samples_per_s": round(result.samples_per_s, 1),
        "compile_s": round(result.compile_s, 3),
        "train_s": round(result.train_s, 3),
    }
    score = task_of(spec).score.key  # "accuracy" or "mse"
    summary[f"test_{score}"] = result.test_metrics[score]
    last = result.final_metrics
    if last is not None and last.train_eval_loss is not None:  # the same numbers on the images it trained on
        summary["train_eval_loss"] = last.train_eval_loss
        if last.train_eval_accuracy is not None:
            summary["train_eval_accuracy"] = last.train_eval_accuracy
    return summary


class Interrupted(Exception):
    """Ctrl-C ended the training; ``summary`` describes what was kept."""

    def __init__(self, summary: dict):
        super().__init__("interrupted")
        self.summary = summary


@contextlib.contextmanager
def stop_on_ctrl_c(stop: threading.Event):
    """The first Ctrl-C sets ``stop`` (the training ends after its current chunk and its model is
    kept, saved with ``--save``, as the dashboard's Stop does); a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum, frame):
        stop.set()
        print("stopping after the current steps (Ctrl-C again to quit at once) ...", file=sys.stderr, flush=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _train_and_save(spec, config, dataset, save: str, show, stop: threading.Event):
    """Train with a checkpoint written after every epoch (``core.runs.autosave``)."""
    from core.runs import autosave

    try:
        saved = autosave.train_saving_each_epoch(spec, config, dataset, save, on_progress=show, stop=stop)
    except OSError as err:
        raise UsageError(f"the trained model could not be saved anywhere: {err.strerror or err}") from None
    return saved


def cmd_sweep(args: argparse.Namespace) -> None:
    """Train the plan's models width after width, printing one JSON line per run as it finishes and keeping
    none of them."""
    from core.data import load_dataset
    from core.training import steps_per_epoch
    from core.training.estimate import estimate_sweep
    from core.training.sweep import SETTINGS, SweepPlan, SweepProgress, SweepRun, sweep_runs

    spec, config = spec_and_config(args, 0)
    values = args.values if args.values is not None else ",".join(f"{v:g}" for v in SETTINGS[args.setting].defaults)
    plan = SweepPlan(spec, args.layer, values, args.seeds, config, args.setting)
    dataset = load_dataset(args.dataset, data_dir=args.data_dir)
    plan = plan.for_classes(len(dataset.class_names))  # an MLP gets one output per class (26 for letters)
    for _, point_config in plan.points:  # a bad batch size fails here, before any output
        steps_per_epoch(point_config, dataset.num_train)
    batched = not args.no_vmap
    _log(dataset.description, args.quiet)
    _log(f"sweep of {plan.describe()}: {plan.models} models", args.quiet)
    estimate = estimate_sweep(plan, dataset, batched=batched)
    _log(f"estimated time: {estimate.total_s:.0f}s ({estimate.describe()})", args.quiet)
    started: set[int] = set()

    def show(p: SweepProgress) -> None:
        if p.width not in started:
            started.add(p.width)
            model = plan.specs[p.width_index]
            value = f"{plan.swept.label} {plan.swept.format(p.width)}"
            _log(f"[{p.width_index + 1}/{p.widths}] {value}: {model.describe()}, "
                 f"{model.parameter_count:,} parameters", args.quiet)  # fmt: skip

    def emit(run: SweepRun) -> None:
        print(json.dumps(run.to_dict()), flush=True)
        score = f"test acc {run.test_accuracy:.2%}" if run.test_accuracy is not None else f"test mse {run.test_mse:.4f}"
        gap = "" if run.gap is None else f", train/test gap {run.gap:.4f}"
        _log(f"  seed {run.seed}: {run.status}, {score}, train loss {run.train_loss or 0:.4f}{gap}", args.quiet)

    tic = time.perf_counter()
    # each run is printed and let go as its width ends: memory holds the widest width's models, not the sweep
    for run in sweep_runs(plan, dataset, on_progress=show, estimate=estimate, batched=batched):
        emit(run)
        del run  # not held while the next width trains
    _log(f"done in {time.perf_counter() - tic:.1f}s (estimated {estimate.total_s:.1f}s)", args.quiet)


def cmd_evaluate(args: argparse.Namespace) -> dict:
    from core.data import load_dataset
    from core.data.folder import read_test_folder
    from core.data.idx import read_idx_split
    from core.predict import evaluate
    from core.runs import checkpoint

    result = checkpoint.load(args.checkpoint)
    if args.idx_dir:
        images, labels = read_idx_split(args.idx_dir, "t10k")
        source = f"idx:{args.idx_dir}"
    elif args.folder:
        test = read_test_folder(args.folder)
        images, labels, source = test.images, test.labels, f"folder:{args.folder}/test"
        if test.skipped:
            print(f"{len(test.skipped):,} unreadable files skipped", file=sys.stderr)
    else:
        dataset = load_dataset(args.dataset or result.dataset, data_dir=args.data_dir)
        images, labels, source = dataset.test_images, dataset.test_labels, dataset.name
    evaluation = evaluate(result.spec, result.variables, images, labels, result.config.reconstruction_loss)
    return {"model": result.spec.describe(), "data": source, **evaluation.to_dict()}


def cmd_export(args: argparse.Namespace) -> dict:
    """``--onnx FILE`` and/or ``--script FILE``: the model as ONNX (checked first) or as a training script."""
    if args.onnx is None and args.script is None:
        raise UsageError("give --onnx FILE (an ONNX model) or --script FILE (a training script), or both")
    given = [flag for dest, flag, default in args.model_options if getattr(args, dest) != default]
    if args.checkpoint is not None and given:
        raise UsageError(f"--checkpoint holds the model and its settings: leave out {', '.join(given)}")
    line: dict = {}
    if args.script is not None:
        line |= export_script(args)
    if args.onnx is not None:
        line |= export_onnx(args)
    return line


def export_onnx(args: argparse.Namespace) -> dict:
    """Export a checkpoint's model as ONNX, check it against onnxruntime, then write it (never unchecked)."""
    if args.checkpoint is None:
        raise UsageError("--onnx needs --checkpoint FILE: the trained model to export")
    from core.data import load_dataset
    from core.files import write_atomic
    from core.onnx_export import converter_version, export_result
    from core.runs import checkpoint

    target = check_save_path(args.onnx, "--onnx")
    result = checkpoint.load(args.checkpoint)
    stem = target.name.removesuffix(target.suffix) if target.suffix.lower() in (".onnx", ".zip") else target.name
    dataset = load_dataset(args.dataset or result.dataset, data_dir=args.data_dir)
    _log(f"{result.spec.describe()}: converting with {converter_version()} ...", args.quiet)
    export = export_result(result, dataset.test_images, dataset.class_names)
    _log(export.check.describe(), args.quiet)
    if target.suffix.lower() == ".zip":
        files = {target.name: export.download(stem)[1]}
    else:
        files = export.files(stem)
        files = {target.name: files.pop(f"{stem}.onnx"), **files}  # the whole model under the name given
    written = []
    for name, data in files.items():
        path = target.with_name(name)
        check_save_path(str(path), "--onnx")
        try:
            written.append(str(write_atomic(path, data)))
        except OSError as err:
            raise UsageError(f"--onnx {shortened(str(path))} cannot be written: {err.strerror or err}") from None
        _log(f"wrote {path}", args.quiet)
    return {"model": result.spec.describe(), "data": dataset.name, "onnx": written, **export.check.to_dict()}


def export_script(args: argparse.Namespace) -> dict:
    """``--script FILE``: the model (a checkpoint's, trained or not, with its run's settings; or the one the
    model options describe, with the training options) as a linen or NNX training script (``--api``)."""
    from core.code_export import training_script
    from core.files import write_atomic

    target = check_save_path(args.script, "--script")
    if args.checkpoint is not None:
        from core.runs import checkpoint

        result = checkpoint.load(args.checkpoint)
        spec, config, dataset = result.spec, result.config, args.dataset or result.dataset
    else:
        spec, config = spec_and_config(args, args.seed)
        dataset = args.dataset or "mnist"
    try:
        written = write_atomic(target, training_script(spec, config, args.api, dataset).encode())
    except OSError as err:
        raise UsageError(f"--script {shortened(args.script)} cannot be written: {err.strerror or err}") from None
    _log(f"wrote {written}: {spec.describe()} in flax {args.api}, {config.epochs} epochs", args.quiet)
    return {"model": spec.describe(), "api": args.api, "script": str(written)}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core.jax_setup import enable_compilation_cache

    enable_compilation_cache()
    try:
        if args.command == "sweep":
            cmd_sweep(args)  # prints a line per run as it goes
            return 0
        commands = {"train": cmd_train, "evaluate": cmd_evaluate, "export": cmd_export}
        summary = commands[args.command](args)
    except CoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Interrupted as stopped:
        print(json.dumps(stopped.summary))
        kept = stopped.summary.get("checkpoint")
        print(f"interrupted after {stopped.summary['steps']:,} steps"
              + (f"; the model so far is saved in {kept}" if kept else ""), file=sys.stderr)  # fmt: skip
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(json.dumps(summary))
    return 0
