"""The command line: once end to end as a person runs it (``python -m core`` in a subprocess),
otherwise through ``main(argv)`` in this process, which is the same code without the start-up."""

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
