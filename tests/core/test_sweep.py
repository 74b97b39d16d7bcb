import gc
import io
import json
import sys
import threading
import weakref
from dataclasses import replace

import jax
import numpy as np
import pytest

from core.data import Dataset
from core.errors import ConfigError
from core.predict import evaluate
from core.runs.jobs import TrainingJob
from core.runs.slots import SLOTS
from core.runs.sweep_job import SweepJob
from core.spec import ModelSpec
from core.training import TrainConfig, train
from core.training.engine import train_stack
from core.training.estimate import SweepEstimate, estimate_sweep, linear
from core.training.sweep import SweepPlan, eta_seconds, run_sweep, spec_with_width, summarise, sweep_runs
from core.validate import whole_numbers as parse_whole_numbers
from testkit.trees import array_bytes, assert_leaves_close
from testkit.waits import joined, wait_for
from tests.core.test_cli import run_cli

MLP = ModelSpec.mlp((64, 32))
CONFIG = TrainConfig(epochs=2)


# ----- seeds trained together equal separate runs -------------------------------------------


def train_seeds(spec, config, dataset, seeds):
    """One stack of the engine with a model per seed, as the sweep trains the seeds of a width."""
    return train_stack([(spec.replace(seed=s), replace(config, seed=s)) for s in seeds], dataset)


def test_seeds_trained_together_match_separate_train_calls(small):
    spec, seeds = ModelSpec.mlp((32,)), (0, 1, 2)
    together = train_seeds(spec, CONFIG, small, seeds)
    for seed, result in zip(seeds, together, strict=True):
        alone = train(spec.replace(seed=seed), replace(CONFIG, seed=seed), small)
        assert result.spec == alone.spec and result.config == alone.config and result.status == "finished"
        assert result.steps == alone.steps == 2 * 8
        np.testing.assert_allclose(result.history.step_losses, alone.history.step_losses, rtol=1e-4)
        got, want = result.final_metrics, alone.final_metrics
        assert got.test_accuracy == pytest.approx(want.test_accuracy, abs=1e-5)
        assert got.test_loss == pytest.approx(want.test_loss, rel=1e-5)
        assert_leaves_close(result.params, alone.params, rtol=1e-7, atol=1e-5)
    # three different models, not one model three times
    assert len({r.history.step_losses[0] for r in together}) == 3


def test_autoencoder_seeds_together_match_separate_runs(small):
    spec, config = ModelSpec.autoencoder((32, 4), (32,)), TrainConfig(epochs=1, reconstruction_loss="bce")
    together = train_seeds(spec, config, small, (3, 7))
    for seed, result in zip((3, 7), together, strict=True):
        alone = train(spec.replace(seed=seed), replace(config, seed=seed), small)
        np.testing.assert_allclose(result.history.step_losses, alone.history.step_losses, rtol=1e-4)
        assert result.final_metrics.test_loss == pytest.approx(alone.final_metrics.test_loss, rel=1e-5)


def test_a_diverging_seed_ends_like_train_does(small):
    spec, config = ModelSpec.mlp((32,)), TrainConfig(optimizer="sgd", learning_rate=1e6, epochs=2)
    together = train_seeds(spec, config, small, (0, 1))
    for seed, result in zip((0, 1), together, strict=True):
        alone = train(spec.replace(seed=seed), replace(config, seed=seed), small)
        assert result.status == alone.status == "diverged"
        assert result.reason == alone.reason and "learning rate" in result.reason
        assert result.history.step_losses == pytest.approx(alone.history.step_losses, rel=1e-4)
        assert_leaves_close(result.params, alone.params, rtol=1e-7, atol=1e-5)


# ----- the plan ------------------------------------------------------------------------------


def test_plan_sorts_widths_and_builds_one_model_per_width():
    plan = SweepPlan(MLP, "0", "32, 8,16,8", "1,0", CONFIG)
    assert plan.layer == 0 and plan.widths == (8, 16, 32) and plan.seeds == (0, 1) and plan.models == 6
    assert [s.describe() for s in plan.specs] == ["MLP 784-8-32-10", "MLP 784-16-32-10", "MLP 784-32-32-10"]
    assert plan.specs[0].parameter_count == 785 * 8 + 9 * 32 + 33 * 10


def test_all_layers_scale_together_and_keep_the_autoencoder_code():
    assert spec_with_width(ModelSpec.mlp((512, 256)), "all", 64).describe() == "MLP 784-64-32-10"
    assert spec_with_width(ModelSpec.mlp((512, 256)), "all", 1).describe() == "MLP 784-1-1-10"
    ae = ModelSpec.autoencoder((256, 64, 16), (64, 256))
    assert spec_with_width(ae, "all", 32).describe() == "AutoEncoder 784-32-8-[16]-8-32-784"
    assert spec_with_width(ae, 2, 4).describe() == "AutoEncoder 784-256-64-[4]-64-256-784"
    assert spec_with_width(ae, 3, 10).describe() == "AutoEncoder 784-256-64-[16]-10-256-784"


@pytest.mark.parametrize(
    ("spec", "layer", "widths", "seeds", "message"),
    [
        (ModelSpec.autoencoder((64, 8), (64,)), 1, "8,1024", "0", "width 1,024 gives an invalid model: the code layer"),
        (MLP, 2, "8", "0", "this model has 2 layers, numbered 0 to 1; got layer 2"),
        (MLP, "first", "8", "0", "layer must be a layer number"),
        (MLP, 0, "8,x", "0", "widths must be whole numbers separated by commas, got 'x'"),
        (MLP, 0, "", "0", "give at least one of the widths"),
        (MLP, 0, "0,8", "0", "each width must be between 1 and 4,096, got 0"),
        (MLP, 0, "8", "-1", "each seed must be between 0"),
        (MLP, 0, "8", ",".join(map(str, range(11))), "at most 10 seeds per width"),
        (ModelSpec.autoencoder((16,), ()), "all", "8", "0", "no layer besides its code"),
    ],
)
def test_invalid_plans_fail_before_anything_runs(spec, layer, widths, seeds, message):
    with pytest.raises(ConfigError, match=message):
        SweepPlan(spec, layer, widths, seeds, CONFIG)


def test_parse_whole_numbers():
    assert parse_whole_numbers(" 8, 16 ,32,", "widths", "widths") == (8, 16, 32)
    assert parse_whole_numbers([8, 16.0], "widths", "widths") == (8, 16)
    with pytest.raises(ConfigError, match=r"whole numbers, got '2\.5'"):
        parse_whole_numbers("2.5", "seeds", "seeds")


# ----- running a sweep -----------------------------------------------------------------------


def test_sweep_streams_every_width_and_batched_equals_one_by_one(small):
    plan = SweepPlan(MLP, 0, (8, 32), (0, 1), CONFIG)
    streamed, progress = [], []
    batched = run_sweep(plan, small, on_run=streamed.append, on_progress=progress.append)
    assert streamed == batched
    assert [(r.width, r.seed) for r in batched] == [(8, 0), (8, 1), (32, 0), (32, 1)]
    for run in batched:
        assert run.status == "finished" and run.result.steps == 2 * 8
        assert run.parameter_count == 785 * run.width + (run.width + 1) * 32 + 33 * 10
        assert run.test_accuracy == run.result.final_metrics.test_accuracy and run.test_mse is None
        assert run.train_loss == pytest.approx(run.result.final_metrics.train_loss)
        assert run.seconds > 0
    assert progress[-1].fraction == pytest.approx(1.0) and progress[-1].eta_s == 0.0
    assert [p.width_index for p in progress] == sorted(p.width_index for p in progress)

    one_by_one = run_sweep(plan, small, batched=False)
    for a, b in zip(batched, one_by_one, strict=True):
        assert (a.width, a.seed, a.spec) == (b.width, b.seed, b.spec)
        assert a.test_accuracy == pytest.approx(b.test_accuracy, abs=1e-5)
        assert a.test_loss == pytest.approx(b.test_loss, rel=1e-5)
        np.testing.assert_allclose(a.result.history.step_losses, b.result.history.step_losses, rtol=1e-4)

    rows = summarise(batched)
    assert [r.width for r in rows] == [8, 32]
    scores = [r.test_accuracy for r in batched if r.width == 32]
    assert rows[1].score_mean == pytest.approx(np.mean(scores))
    assert rows[1].score_std == pytest.approx(np.std(scores, ddof=1))
    assert rows[1].parameter_count == plan.specs[1].parameter_count and rows[1].seeds == (0, 1)


def test_same_plan_same_results(small):
    plan = SweepPlan(ModelSpec.autoencoder((32, 4), (32,)), "all", (8, 16), (5,), TrainConfig(epochs=1))
    first, second = run_sweep(plan, small), run_sweep(plan, small)
    assert [r.result.history.step_losses for r in first] == [r.result.history.step_losses for r in second]
    assert [r.test_mse for r in first] == [r.test_mse for r in second]
    for run in first:
        assert run.test_accuracy is None
        expected = evaluate(run.spec, run.result.params, small.test_images, small.test_labels).mse
        assert run.test_mse == pytest.approx(expected, rel=1e-5)
    assert first[0].to_dict()["widths"] == [8, 4, 8] and "test_mse" in first[0].to_dict()


def test_estimate_puts_step_times_on_one_line_through_the_smallest_and_largest_model(small):
    plan = SweepPlan(MLP, 0, (8, 24, 128), (0, 1), TrainConfig(epochs=3))
    estimate = estimate_sweep(plan, small)
    assert len(estimate.per_width_s) == 3 and all(s > 0 for s in estimate.per_width_s)
    assert estimate.total_s == pytest.approx(sum(estimate.per_width_s))
    assert "MLP 784-8-32-10 and MLP 784-128-32-10" in estimate.describe()
    # only widths 8 and 128 are timed; the parameters (785w + 32(w + 1) + 330) grow linearly with the
    # width, so width 24 is (24 - 8) / (128 - 8) = 2/15 of the way from one step time to the other
    step_8, step_24, step_128 = estimate.step_s
    assert 0 < step_8 <= step_128  # a bigger model never takes less time per step
    assert step_24 == pytest.approx(step_8 + (step_128 - step_8) * 2 / 15, rel=1e-9)


def test_step_times_between_two_timed_models_are_interpolated():
    line = linear([(1_000, 0.002), (3_000, 0.006)])
    assert line(2_000) == pytest.approx(0.004) and line(5_000) == pytest.approx(0.010)
    assert line(0) == 1e-6  # never zero or below
    assert linear([(1_000, 0.006), (3_000, 0.002)])(2_000) == 0.006  # a bigger model is never faster
    assert linear([(1_000, 0.5)])(9_000) == 0.5


def test_time_left_trusts_the_estimate_first_then_the_pace_so_far():
    estimate = SweepEstimate(100.0, (25.0, 75.0), (0.01, 0.03), 2.0, "two models", 0.3)
    assert eta_seconds(3.0, 0.01, estimate) == 97.0  # under 5% done: the estimate minus the time spent
    assert eta_seconds(150.0, 0.02, estimate) == 0.0
    assert eta_seconds(3.0, 0.01, None) == pytest.approx(297.0)  # 3 s for 1%: 99% take 297 s
    assert eta_seconds(10.0, 0.25, estimate) == pytest.approx(30.0)
    assert eta_seconds(0.0, 0.0, None) is None
    assert eta_seconds(42.0, 1.0, estimate) == 0.0


def test_progress_of_a_sweep_is_weighted_by_the_estimated_time_of_each_width(small):
    plan = SweepPlan(ModelSpec.mlp((32,)), 0, (4, 16), (0,), TrainConfig(epochs=1))
    estimate = SweepEstimate(4.0, (1.0, 3.0), (0.001, 0.003), 2.0, "by hand", 0.0)
    progress = []
    run_sweep(plan, small, on_progress=progress.append, estimate=estimate)
    first = [p.fraction for p in progress if p.width == 4]
    second = [p.fraction for p in progress if p.width == 16]
    # width 4 is a quarter of the estimated time: its end is 25% of the sweep, width 16 takes the rest
    assert first[0] == 0.0 and first[-1] == pytest.approx(0.25)
    assert second[0] == pytest.approx(0.25) and second[-1] == pytest.approx(1.0)
    assert first + second == sorted(first + second)


# ----- in the background ---------------------------------------------------------------------


def test_sweep_job_streams_results_then_finishes(small):
    plan = SweepPlan(MLP, 1, (4, 8), (0,), CONFIG)
    finished = []
    job = SweepJob(plan, small, on_done=finished.append).start()
    joined(job, "the sweep to finish")
    snap = job.snapshot()
    assert snap.status == "finished" and not snap.active and snap.progress == 1.0 and snap.eta_s == 0.0
    assert [r.width for r in snap.runs] == [4, 8] and snap.elapsed_s > 0
    assert finished == [job]


def test_a_finished_sweep_keeps_the_curves_and_only_the_best_seed_parameters_of_each_width(small):
    plan = SweepPlan(MLP, 0, (8, 32), (0, 1, 2), TrainConfig(epochs=1))
    job = SweepJob(plan, small).start()
    joined(job, "the sweep to finish")
    # float32 parameters of one 784-w-32-10 model per width, (785w + (w+1)*32 + 33*10) * 4 bytes: no
    # optimizer state, no other seed's parameters (all of them: 1,202,712 bytes)
    expected = sum((785 * w + (w + 1) * 32 + 33 * 10) * 4 for w in (8, 32))
    assert expected == 133_616
    assert array_bytes(job, skip=(Dataset,)) == expected
    assert array_bytes(job.snapshot()) == expected
    runs = job.runs
    assert [(r.width, r.seed) for r in runs] == [(8, 0), (8, 1), (8, 2), (32, 0), (32, 1), (32, 2)]
    for width in (8, 32):
        of_width = [r for r in runs if r.width == width]
        best = max(of_width, key=lambda r: r.test_accuracy)
        assert [r.kept for r in of_width] == [r is best for r in of_width]
        assert best.result.opt_state is None and best.result.params["Dense_0"]["kernel"].shape == (784, width)
    # every model keeps its scores and its curve for the chart and the table
    assert all(r.result.steps == 8 and len(r.result.history.step_losses) == 8 for r in runs)
    assert all(r.test_accuracy is not None and r.gap is not None for r in runs)


def test_a_stop_between_chunks_ends_the_seeds_at_once_and_no_later_width_starts(small):
    plan = SweepPlan(ModelSpec.mlp((32,)), 0, (4, 16), (0, 1), TrainConfig(epochs=50))
    stop, trained, at_stop, progress = threading.Event(), {0: 0, 1: 0}, {}, []

    def on_progress(p):
        progress.append(p)
        for seed, losses in p.new_losses.items():
            trained[seed] += len(losses)
        if p.phase == "training" and not stop.is_set():
            stop.set()  # after the first chunk of the first width, well inside its first epoch of 8 steps
            at_stop.update(trained)
            progress.append("stop")

    runs = run_sweep(plan, small, on_progress=on_progress, stop=stop)
    assert 0 < at_stop[0] == at_stop[1] < 8
    assert [(r.width, r.seed, r.status) for r in runs] == [(4, 0, "stopped"), (4, 1, "stopped")]
    assert [r.result.steps for r in runs] == [at_stop[0], at_stop[1]]  # not one step after the stop
    after = progress[progress.index("stop") + 1 :]
    assert all(p.width == 4 and not any(p.new_losses.values()) for p in after)


def test_stopping_a_sweep_job_keeps_the_runs_of_the_width_it_interrupts(sample):
    plan = SweepPlan(ModelSpec.mlp((256,)), 0, (4, 256), (0, 1), TrainConfig(epochs=300))
    job = SweepJob(plan, sample).start()
    wait_for(lambda: job.snapshot().step >= 100, "100 steps of the sweep's first width")
    snap = job.snapshot()
    assert snap.status in ("running", "evaluating") and snap.width == 4 and set(snap.live_losses) == {0, 1}
    job.stop()
    at_stop = job.snapshot().step // 2  # steps of each of the two seeds, read after the stop
    joined(job, "the stopped sweep to end")
    snap = job.snapshot()
    assert snap.status == "stopped" and "0 of 4 models fully trained" in snap.message
    assert [(r.width, r.seed, r.status) for r in snap.runs] == [(4, 0, "stopped"), (4, 1, "stopped")]
    # the chunk running at the stop is the last: it never crosses an epoch's end (35 steps, 4,500 // 128)
    for run in snap.runs:
        assert 50 <= at_stop <= run.result.steps <= at_stop + 35 < 300 * 35
    assert summarise(snap.runs) == []  # partly trained models are not compared with finished ones


def test_a_sweep_waits_for_a_training_slot(small, one_slot):
    training = TrainingJob(ModelSpec.mlp((256,)), TrainConfig(epochs=500), small).start()
    wait_for(lambda: SLOTS.holds(training), "the training to take the only slot")
    job = SweepJob(SweepPlan(MLP, 0, (8,), (0,), TrainConfig(epochs=1)), small).start()
    wait_for(lambda: SLOTS.waiting == 1, "the sweep to wait for a slot")
    assert job.snapshot().status == "queued" and not SLOTS.holds(job)
    training.stop()
    joined(training, "the stopped training to end")
    joined(job, "the sweep to finish once it had the slot")
    assert job.snapshot().status == "finished"


# ----- the command line ------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_prints_one_json_line_per_run_as_it_finishes():
    proc = run_cli(
        "sweep", "--model", "mlp", "--widths", "64,32", "--layer", "0", "--values", "16,8", "--seeds", "0,1",
        "--epochs", "1", "--dataset", "sample",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [(r["width"], r["seed"]) for r in lines] == [(8, 0), (8, 1), (16, 0), (16, 1)]
    for row in lines:
        assert row["widths"] == [row["width"], 32] and row["status"] == "finished" and row["epochs"] == 1
        assert row["params"] == ModelSpec.mlp((row["width"], 32)).parameter_count
        assert 0.3 < row["test_accuracy"] <= 1 and row["train_loss"] > 0 and row["seconds"] > 0
    assert "estimated time" in proc.stderr and "[2/2] width 16" in proc.stderr


class LiveKernelsAtEachLine(io.StringIO):
    """Standard output that notes, as each JSON line is printed, the widths of the first-layer kernels
    (784, width) alive anywhere in the process (after a full collection), other than those alive before."""

    def __init__(self) -> None:
        super().__init__()
        self.before = jax.live_arrays()  # other tests' models, held by their fixtures
        self.seen: list[tuple[int, set[int]]] = []

    def write(self, text: str) -> int:
        if text.startswith("{"):
            gc.collect()
            earlier = {id(a) for a in self.before}
            alive = {
                a.shape[-1] for a in jax.live_arrays() if a.ndim >= 2 and a.shape[-2] == 784 and id(a) not in earlier
            }
            self.seen.append((json.loads(text)["width"], alive))
        return super().write(text)


def test_the_cli_sweep_lets_each_width_go_once_printed(monkeypatch):
    """Peak memory grows with the widest model, not the sum: when a line is printed, no kernel of an
    earlier width is alive (before, the best seed of every width was kept until the end)."""
    from core.cli import main

    out = LiveKernelsAtEachLine()
    monkeypatch.setattr(sys, "stdout", out)
    args = ["sweep", "--widths", "8", "--values", "8,16,24", "--seeds", "0,1", "--epochs", "1", "--quiet"]
    assert main([*args, "--train-fraction", "0.05"]) in (0, None)
    assert [width for width, _ in out.seen] == [8, 8, 16, 16, 24, 24]
    for width, alive in out.seen:
        assert alive <= {width}, f"printing width {width}, kernels of widths {sorted(alive)} are alive"


def test_sweep_runs_holds_nothing_of_a_width_once_the_next_one_trains(small):
    plan = SweepPlan(ModelSpec.mlp((8,)), 0, "8,16", (0, 1), TrainConfig(epochs=1, batch_size=64))
    runs = sweep_runs(plan, small)
    first = [next(runs), next(runs)]
    kept = [weakref.ref(leaf) for run in first if run.kept for leaf in jax.tree_util.tree_leaves(run.result.params)]
    assert len(kept) == 4  # the best seed's two kernels and two biases
    del first
    later = list(runs)
    gc.collect()
    assert [r.value for r in later] == [16, 16] and all(ref() is None for ref in kept)


@pytest.mark.slow
def test_cli_scales_all_autoencoder_layers_and_reports_mse():
    proc = run_cli(
        "sweep", "--model", "autoencoder", "--encoder", "64,8", "--decoder", "64", "--layer", "all",
        "--values", "32", "--epochs", "1", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    row = json.loads(proc.stdout)
    assert row["widths"] == [32, 8, 32] and 0 < row["test_mse"] < 0.2 and "test_accuracy" not in row


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--layer", "2"), "error: layer: this model has 2 layers"),
        (("--values", "8,abc"), "error: values: widths must be whole numbers"),
        (("--model", "autoencoder", "--layer", "2", "--values", "900"), "wider than the input it compresses"),
        (("--seeds", "0", "--batch-size", "0"), "error: batch_size: batch size must be between 1"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(args, message):
    proc = run_cli("sweep", *args)
    assert proc.returncode == 2
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr


# ----- sweeping a training setting (the overfitting lab) -------------------------------------


def test_a_sweep_of_the_training_share_trains_seeds_together_and_shows_the_gap_shrink(sample):
    config = TrainConfig(epochs=4, batch_size=32, augment=False)
    plan = SweepPlan(ModelSpec.mlp((128,)), 0, "1, 0.05", (0, 1), config, "train_fraction")
    assert plan.values == (0.05, 1.0) and plan.models == 4
    assert plan.describe() == "MLP 784-128-10, share of the training images at 5%, 100%, seeds 0, 1"
    runs = run_sweep(plan, sample)
    assert [(r.value, r.seed) for r in runs] == [(0.05, 0), (0.05, 1), (1.0, 0), (1.0, 1)]
    assert [r.result.steps for r in runs] == [4 * (225 // 32)] * 2 + [4 * (4_500 // 32)] * 2
    # a point is one stack of seeds: each equals its own run of the engine
    alone = train(ModelSpec.mlp((128,), seed=1), replace(config, seed=1, train_fraction=0.05), sample)
    np.testing.assert_allclose(runs[1].result.history.step_losses, alone.history.step_losses, rtol=1e-4)
    # one compiled step serves every share (the epoch plan is padded to all images)
    assert runs[2].result.compile_s == 0.0
    rows = summarise(runs)
    assert [r.value for r in rows] == [0.05, 1.0]
    # seen: gap 0.108 +- 0.028 at 5%, 0.035 +- 0.007 at 100% (train minus test accuracy, 2 seeds)
    assert rows[0].gap_mean > rows[1].gap_mean + 0.05
    assert runs[0].to_dict()["train_fraction"] == 0.05 and "gap" in runs[0].to_dict()


def test_an_l2_sweep_keeps_the_model_and_changes_the_penalty(small):
    plan = SweepPlan(MLP, 0, "0.01,0", (0,), TrainConfig(epochs=1), "l2")
    assert [c.l2 for _, c in plan.points] == [0.0, 0.01] and set(plan.specs) == {MLP}
    runs = run_sweep(plan, small)
    assert runs[0].result.config.l2 == 0.0 and runs[1].result.config.l2 == 0.01
    assert runs[0].result.history.step_losses[0] == runs[1].result.history.step_losses[0]  # same start
    assert runs[0].result.history.step_losses[-1] != runs[1].result.history.step_losses[-1]


@pytest.mark.parametrize(
    ("setting", "values", "message"),
    [
        ("l2", "0,-1", "values: L2 penalty must be between 0 and 1, got -1"),
        ("l2", "0,abc", "values: the L2 penalty values must be numbers separated by commas, got 'abc'"),
        ("train_fraction", "0,0.5", "values: training fraction must be above 0 and at most 1 (100%), got 0"),
        ("train_fraction", "", "values: give at least one share of the training images"),
        ("depth", "3", "setting: unknown setting to sweep 'depth'; choose width, train_fraction, l2, dropout"),
    ],
)
def test_invalid_values_of_a_training_setting_fail_before_anything_runs(setting, values, message):
    with pytest.raises(ConfigError) as info:
        SweepPlan(MLP, 0, values, (0,), CONFIG, setting)
    assert str(info.value).startswith(message), str(info.value)


def test_cli_sweeps_an_l2_penalty_and_refuses_a_bad_one(capsys):
    from tests.core.test_cli import run_main

    code, out, err = run_main(
        capsys, "sweep", "--widths", "16", "--setting", "l2", "--values", "0,0.01", "--epochs", "1", "--quiet"
    )
    assert code == 0, err
    assert [json.loads(line)["l2"] for line in out.splitlines()] == [0.0, 0.01]
    code, out, err = run_main(capsys, "sweep", "--setting", "train_fraction", "--values", "2")
    assert (
        code == 2
        and out == ""
        and err.strip().splitlines() == ["error: values: training fraction must be above 0 and at most 1 (100%), got 2"]
    )


def test_a_dropout_sweep_sets_every_dropout_layer_and_needs_one(small):
    from core.spec import Layer

    spec = ModelSpec.mlp((32,)).replace(hidden=(Layer(32, "relu"), Layer.dropout(0.2), Layer(16, "relu")))
    plan = SweepPlan(spec, 0, "0.5, 0", (0,), TrainConfig(epochs=1), "dropout")
    assert [s.describe() for s in plan.specs] == ["MLP 784-32-dropout 0-16-10", "MLP 784-32-dropout 0.5-16-10"]
    runs = run_sweep(plan, small)
    assert [r.value for r in runs] == [0.0, 0.5] and all(r.gap is not None for r in runs)
    # the same starting weights (a Dropout layer has none); rate 0.5 drops values from the first step on
    assert runs[0].result.history.step_losses[0] != runs[1].result.history.step_losses[0]
    with pytest.raises(ConfigError, match="no Dropout layer to vary"):
        SweepPlan(MLP, 0, "0.1", (0,), CONFIG, "dropout")
    with pytest.raises(ConfigError, match="values: a dropout rate is the share of values zeroed"):
        SweepPlan(spec, 0, "0,1", (0,), CONFIG, "dropout")


def test_a_conv_layer_is_swept_over_fewer_channels_than_a_dense_layers_units():
    """A conv layer's channels cost every pixel: the Sweep page's default widths for the flax example CNN's
    first conv stop at 128 (1,024 channels of 28x28 took the page 7 minutes to estimate on 2 cores)."""
    from core.presets import PRESETS
    from core.training.sweep import ALL_LAYERS, DEFAULT_WIDTHS, default_widths

    cnn = PRESETS["flax MNIST example (CNN)"][1]
    assert default_widths(cnn, 0) == (4, 8, 16, 32, 64, 128)  # Conv 32
    dense = next(i for i, layer in enumerate(cnn.layers) if layer.units() is not None and not layer.image_layer)
    assert default_widths(cnn, dense) == DEFAULT_WIDTHS == (8, 16, 32, 64, 128, 256, 512, 1024)
    assert default_widths(cnn, ALL_LAYERS) == (4, 8, 16, 32, 64, 128)  # scaling every layer: the conv's widths
    assert default_widths(ModelSpec.mlp((512, 256)), ALL_LAYERS) == DEFAULT_WIDTHS
