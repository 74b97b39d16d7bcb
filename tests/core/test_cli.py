"""The command line: once end to end as a person runs it (``python -m core`` in a subprocess),
otherwise through ``main(argv)`` in this process, which is the same code without the start-up."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.data import load_dataset
from core.data.folder import write_image_folder
from core.data.idx import export_idx
from core.predict import mean_image_mse
from testkit.waits import HANG_S

ROOT = Path(__file__).resolve().parents[2]


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``python -m core *args``, run in this process."""
    try:
        code = main(list(args))
    except SystemExit as exit_:  # argparse ends the program on a bad argument
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "core", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
    )


@pytest.mark.slow
def test_train_then_evaluate_on_idx_files(tmp_path):
    ckpt = tmp_path / "run.msgpack"
    proc = run_cli(
        "train", "--model", "mlp", "--widths", "128", "--dataset", "sample", "--epochs", "2",
        "--batch-size", "128", "--lr", "1e-3", "--seed", "0", "--save", str(ckpt),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["params"] == 785 * 128 + 129 * 10
    assert result["epochs"] == 2 and result["status"] == "finished"
    assert 0.8 < result["test_accuracy"] <= 1.0
    assert result["samples_per_s"] > 0 and result["compile_s"] > 0 and result["train_loss"] > 0
    assert "epoch 2/2" in proc.stderr
    # evaluate on the held-out sample digits written as IDX files: same number as training reported
    sample = load_dataset("sample")
    export_idx(tmp_path / "idx", "t10k", sample.test_images, sample.test_labels, gz=True)
    proc = run_cli("evaluate", "--checkpoint", str(ckpt), "--idx-dir", str(tmp_path / "idx"))
    assert proc.returncode == 0, proc.stderr
    evaluation = json.loads(proc.stdout)
    assert evaluation["n"] == 500
    assert evaluation["accuracy"] == pytest.approx(result["test_accuracy"], abs=1e-6)
    # and a bad input ends the process with exit code 2 and one line
    proc = run_cli("evaluate", "--checkpoint", str(tmp_path / "missing.msgpack"))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith("error: cannot open checkpoint") and proc.stderr.count("\n") == 1


@pytest.mark.slow
def test_the_sample_as_an_image_folder_trains_to_the_samples_accuracy(tmp_path, capsys, sample):
    digits = tmp_path / "digits"
    write_image_folder(digits, "train", sample.train_images, sample.train_labels, sample.class_names)
    write_image_folder(digits, "test", sample.test_images, sample.test_labels, sample.class_names)
    common = ("train", "--widths", "128", "--epochs", "3", "--batch-size", "128", "--lr", "1e-3", "--seed", "0",
              "--quiet")  # fmt: skip
    code, out, err = run_main(capsys, *common, "--dataset", "sample")
    assert code == 0, err
    from_sample = json.loads(out)
    ckpt = tmp_path / "folder.msgpack"
    code, out, err = run_main(capsys, *common, "--dataset", f"folder:{digits}", "--save", str(ckpt))
    assert code == 0, err
    from_folder = json.loads(out)
    assert from_folder["dataset"] == f"folder:{digits.resolve()}"
    assert from_folder["steps"] == from_sample["steps"] == 3 * (4500 // 128)
    # the same images in another order (class by class): same accuracy within one point
    assert from_sample["test_accuracy"] > 0.85, from_sample
    assert abs(from_folder["test_accuracy"] - from_sample["test_accuracy"]) <= 0.01, (from_sample, from_folder)
    code, out, err = run_main(capsys, "evaluate", "--checkpoint", str(ckpt), "--folder", str(digits))
    assert code == 0, err
    evaluation = json.loads(out)
    assert (evaluation["n"], evaluation["data"]) == (500, f"folder:{digits}/test")
    assert evaluation["accuracy"] == pytest.approx(from_folder["test_accuracy"], abs=1e-6)
    for folder, words in ((tmp_path / "none", "does not exist"), (digits / "train", "has no test folder")):
        code, out, err = run_main(capsys, "evaluate", "--checkpoint", str(ckpt), "--folder", str(folder))
        assert (code, out) == (2, "")
        assert err.startswith("error: ") and words in err and err.count("\n") == 1


@pytest.mark.slow
def test_autoencoder_reports_test_mse(tmp_path, capsys):
    code, out, err = run_main(
        capsys, "train", "--model", "autoencoder", "--encoder", "64,8", "--decoder", "64", "--epochs", "4",
        "--save", str(tmp_path / "ae.msgpack"), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert err == ""
    result = json.loads(out)
    assert (result["status"], result["epochs"], result["steps"]) == ("finished", 4, 4 * (4500 // 128))
    assert result["params"] == 785 * 64 + 65 * 8 + 9 * 64 + 65 * 784
    sample = load_dataset("sample")
    assert 0 < result["test_mse"] < mean_image_mse(sample.train_images, sample.test_images)
    assert "test_accuracy" not in result
    code, out, err = run_main(capsys, "evaluate", "--checkpoint", str(tmp_path / "ae.msgpack"), "--dataset", "sample")
    assert code == 0, err
    evaluation = json.loads(out)
    assert evaluation["n"] == 500 and evaluation["data"] == "sample"
    assert evaluation["mse"] == pytest.approx(result["test_mse"], rel=1e-5)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["train", "--widths", "0,5"], "width of hidden layer 1 must be between 1 and 4,096, got 0"),
        (["train", "--widths", "3.5"], "whole number"),
        (["train", "--lr", "0"], "learning rate must be above 0"),
        (["train", "--lr", "nan"], "finite"),
        (["train", "--epochs", "0"], "number of epochs must be between 1"),
        (["train", "--batch-size", "9999"], "batch size must be between 1 and 8,192"),
        (["train", "--batch-size", "5000", "--epochs", "1"], "larger than the 4,500 training images"),
        (["train", "--seed", "-4"], "seed must be between 0"),
        (["train", "--model", "autoencoder", "--encoder", "1000"], "wider than the input"),
        (["train", "--model", "cnn"], "invalid choice"),
        (["train", "--dataset", "cifar"], "unknown dataset 'cifar'"),
        (["train", "--dataset", "idx:/nonexistent"], "does not exist"),
        (["train", "--dataset", "folder:/nonexistent"], "folder /nonexistent does not exist"),
        (["train", "--dataset", "folder:"], "folder: needs a folder"),
        (["train", "--dataset", f"folder:{ROOT / 'core'}"], "no readable images in"),
        (["train", "--bogus"], "unrecognized arguments"),
        (["train", "--l2", "-1"], "l2: L2 penalty must be between 0 and 1, got -1"),
        (["train", "--l2", "lots"], "L2 penalty must be a number, got 'lots'"),
        (["train", "--noise", "2"], "input noise must be between 0 and 1, got 2"),
        (["train", "--train-fraction", "0"], "training fraction must be above 0 and at most 1 (100%), got 0"),
        (["train", "--train-fraction", "150%"], "training fraction must be above 0 and at most 1 (100%), got 1.5"),
        (["train", "--train-fraction", "x%"], "training fraction must be a number, got 'x%'"),
        (["train", "--train-fraction", "1%", "--epochs", "1"], "larger than the 45 training images (1% of 4,500)"),
        (["evaluate", "--checkpoint", "/nonexistent.msgpack"], "cannot open checkpoint"),
        (["evaluate", "--checkpoint", __file__], "not a checkpoint"),
        ([], "required"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, args, words):
    code, out, err = run_main(capsys, *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and words in lines[0]


def test_l2_noise_and_a_fraction_reach_the_run(capsys):
    code, out, err = run_main(
        capsys, "train", "--widths", "32", "--epochs", "2", "--batch-size", "32", "--l2", "1e-4", "--noise", "0.1",
        "--train-fraction", "5%", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["train_images"] == 225 and result["steps"] == 2 * (225 // 32)
    # the same numbers on the images it trained on, beside the test set's
    assert 0 <= result["train_eval_accuracy"] <= 1 and result["train_eval_loss"] > 0
    code, out, err = run_main(capsys, "train", "--widths", "32", "--epochs", "1", "--train-fraction", "0.05")
    assert code == 0 and "training on 225 of 4,500 images (5%)" in err


def _one_line_error(capsys, *args: str) -> str:
    code, out, err = run_main(capsys, *args)
    assert code == 2 and out == "", (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def no_training(monkeypatch):
    """Each case below must be refused before a single step is trained."""
    import core.training

    monkeypatch.setattr(core.training, "train", lambda *a, **k: pytest.fail("trained before checking --save"))


@pytest.mark.parametrize(
    ("where", "words"),
    [
        (lambda tmp: str(tmp), "is a folder"),
        (lambda tmp: str(tmp / "a-file" / "run.msgpack"), "a-file is not a folder"),
        (lambda tmp: str(tmp / "missing" / "run.msgpack"), "missing does not exist"),
        (lambda tmp: "", "--save needs a file name"),
        (lambda tmp: "  ", "--save needs a file name"),
        (lambda tmp: str(tmp / ("n" * 5000)), "cannot be written: File name too long"),
        (lambda tmp: str(tmp / "a\0b"), "NUL byte"),
    ],
    ids=["folder", "parent-is-a-file", "no-parent", "empty", "blank", "too-long", "nul"],
)
def test_a_save_that_cannot_be_written_is_refused_before_training(tmp_path, capsys, no_training, where, words):
    (tmp_path / "a-file").write_text("x")
    line = _one_line_error(capsys, "train", "--widths", "8", "--epochs", "1", "--save", where(tmp_path))
    assert words in line and len(line) < 300, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # the probe left nothing behind


def test_a_save_into_a_place_nobody_may_write_is_refused_before_training(capsys, no_training):
    """/proc takes no new files, not even from root (CI runs as root, so chmod would prove nothing)."""
    line = _one_line_error(capsys, "train", "--epochs", "1", "--save", "/proc/flax-dashboard-run.msgpack")
    assert "cannot be written" in line and len(line) < 300, line


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--model", "autoencoder", "--widths", "7"], "--widths is for an MLP, not --model autoencoder"),
        (["--model", "mlp", "--encoder", "9,3"], "--encoder is for an autoencoder, not --model mlp"),
        (["--decoder", "9"], "--decoder is for an autoencoder, not --model mlp"),
    ],
)
def test_an_option_for_the_other_model_is_refused(capsys, no_training, args, words):
    assert words in _one_line_error(capsys, "train", "--epochs", "1", *args)


@pytest.mark.parametrize(
    ("folder", "words"),
    [
        ("/tmp/a\0b", "NUL byte"),
        ("/tmp/" + "d" * 5000, "File name too long"),
    ],
    ids=["nul", "too-long"],
)
def test_hostile_idx_folders_exit_2_with_one_line(capsys, no_training, folder, words):
    line = _one_line_error(capsys, "train", "--epochs", "1", "--dataset", f"idx:{folder}")
    assert words in line and len(line) < 300, line


def test_a_save_that_fails_after_training_goes_to_a_temporary_folder(tmp_path, capsys, monkeypatch):
    """The disk fills while training: the destination was fine at the start, the writes fail. The
    model is not lost: it is saved in a temporary folder and the one error line says where."""
    import errno

    from core.runs import checkpoint

    wanted = tmp_path / "run.msgpack"
    real_save = checkpoint.save

    def full_disk_at(path, result):
        if Path(path) == wanted:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_save(path, result)

    monkeypatch.setattr(checkpoint, "save", full_disk_at)
    line = _one_line_error(
        capsys, "train", "--widths", "8", "--epochs", "2", "--batch-size", "256", "--quiet", "--save", str(wanted),
    )  # fmt: skip
    assert "could not be saved to" in line and "No space left on device" in line
    kept = Path(line.split("it is saved in ")[1].removesuffix(" instead"))
    assert kept.name == "run.msgpack" and not wanted.exists()
    result = checkpoint.load(kept)
    assert result.status == "finished" and len(result.history.epochs) == 2


def test_a_save_that_fails_everywhere_is_one_line(tmp_path, capsys, monkeypatch):
    import errno

    from core.runs import checkpoint

    def full(path, result):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(checkpoint, "save", full)
    line = _one_line_error(
        capsys, "train", "--widths", "8", "--epochs", "1", "--batch-size", "256", "--quiet",
        "--save", str(tmp_path / "run.msgpack"),
    )  # fmt: skip
    assert "could not be saved anywhere" in line and "No space left on device" in line


def _start_long_training(save: Path) -> subprocess.Popen:
    """A CLI training of many short epochs on the sample, saving to ``save``."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    args = ["train", "--widths", "8", "--epochs", "300", "--batch-size", "256", "--save", str(save)]
    return subprocess.Popen([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _wait_for(path: Path, process: subprocess.Popen) -> None:
    import time

    for _ in range(1200):  # polls every 0.1 s; the first epoch's checkpoint comes after the first compile
        if path.exists() or process.poll() is not None:
            return
        time.sleep(0.1)


@pytest.mark.slow
def test_kill_9_during_training_loses_at_most_the_current_epoch(tmp_path):
    from core.runs import checkpoint
    from core.training import TrainConfig, steps_per_epoch, train

    save = tmp_path / "run.msgpack"
    process = _start_long_training(save)
    _wait_for(save, process)
    process.kill()
    process.communicate()
    assert process.returncode == -9, "the training ended before it could be killed"
    kept = checkpoint.load(save)
    per_epoch = steps_per_epoch(TrainConfig(batch_size=256), load_dataset("sample").num_train)
    assert kept.status == "stopped" and "saved after epoch" in kept.reason
    epochs = len(kept.history.epochs)
    assert 1 <= epochs < 300 and kept.steps == epochs * per_epoch and kept.config.epochs == 300
    # what was kept continues exactly: one more epoch from the file equals training that far at once
    config = dataclasses.replace(kept.config, epochs=epochs + 1)
    more = train(kept.spec, config, load_dataset("sample"), resume=kept)
    once = train(kept.spec, config, load_dataset("sample"))
    assert more.history.step_losses == once.history.step_losses


@pytest.mark.slow
def test_ctrl_c_stops_the_training_and_saves_it_as_stopped(tmp_path):
    import signal

    from core.runs import checkpoint
    from core.training import steps_per_epoch

    save = tmp_path / "run.msgpack"
    process = _start_long_training(save)
    _wait_for(save, process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=HANG_S)
    assert process.returncode == 130, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "stopped" and summary["checkpoint"] == str(save)
    assert f"interrupted after {summary['steps']:,} steps; the model so far is saved in {save}" in err
    kept = checkpoint.load(save)
    assert kept.status == "stopped" and kept.steps == summary["steps"] and "stopped by request" in kept.reason
    assert 0 < kept.steps < 300 * steps_per_epoch(kept.config, load_dataset("sample").num_train)
