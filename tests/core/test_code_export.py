"""Training scripts to take home: standalone (jax, flax, optax, numpy), and they train."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from core import code_export, models
from core.cli import main
from core.data.idx import read_idx_split
from core.layer_items import parse_layers
from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig
from core.training.overfitting import training_indices
from testkit.waits import HANG_S

MLP = ModelSpec(kind="mlp", hidden=parse_layers("256, batchnorm, dropout:0.2, 128", "hidden"))
AUTOENCODER = ModelSpec.autoencoder(encoder=(256, 32), decoder=(256,))
CONV_AUTOENCODER = ModelSpec(
    kind="autoencoder",
    encoder=parse_layers("conv:8, avgpool, 16", "e", code_activation="linear"),
    decoder=parse_layers("convt:8", "d"),
)
CONV_MLP = ModelSpec(
    kind="mlp",
    hidden=parse_layers("conv:4, maxpool, conv:4:5:gelu, batchnorm, avgpool, dropout:0.1, 16, layernorm", "h"),
)
CONV_CLASSIFIER = ModelSpec(
    kind="mlp", hidden=parse_layers("conv:8, maxpool, conv:16, batchnorm, avgpool, dropout:0.1, 64, layernorm", "h")
)
#: What a script may import: the standard library, jax, flax, optax, numpy (tensorflow_datasets to download MNIST)
ALLOWED = {"argparse", "gzip", "json", "os", "sys", "collections", "typing", "flax", "jax", "numpy", "optax",
           "tensorflow_datasets"}  # fmt: skip
CHECKPOINT = Path(__file__).parent / "checkpoints" / "main-2026-12-mlp-4.msgpack"


def imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    return modules


@pytest.mark.parametrize("api", ["linen", "nnx"])
@pytest.mark.parametrize("spec", [MLP, AUTOENCODER, CONV_AUTOENCODER], ids=["mlp", "autoencoder", "conv"])
def test_a_script_imports_only_jax_flax_optax_numpy_and_carries_the_runs_settings(spec, api):
    config = TrainConfig(optimizer="sgd", learning_rate=0.05, batch_size=32, epochs=3, seed=9, l2=0.001, noise=0.1)
    script = code_export.training_script(spec, config, api)
    compile(script, "train.py", "exec")
    assert imported_modules(script) <= ALLOWED
    for line in ('"optimizer": "sgd"', '"learning_rate": 0.05', '"batch_size": 32', '"epochs": 3', '"seed": 9',
                 '"l2": 0.001', '"noise": 0.1', '"augment": True'):  # fmt: skip
        assert line in script
    for part in ("def create_train_state" if api == "linen" else "def create_optimizer", "def train_step",
                 "def train_epoch", "def evaluate", "def train_and_evaluate"):  # fmt: skip
        assert part in script


@pytest.mark.parametrize("spec", [MLP, CONV_MLP, CONV_AUTOENCODER], ids=["mlp", "conv", "conv-autoencoder"])
def test_the_linen_scripts_explicit_model_is_the_dashboards_model(spec, sample):
    """The script's ``@nn.compact`` classes make the variables of ``core.models`` (same paths, same shapes)
    and, given the same values, the same outputs, in evaluation and in training mode."""
    namespace = {"nn": nn}
    exec(code_export.linen_model_source(spec), namespace)
    written, ours = namespace[code_export.KIND_CODE[type(spec)].model_class](), models.build_model(spec)
    x = jnp.asarray(sample.test_images[:8], jnp.float32) / 255.0
    variables = ours.init(jax.random.key(3), x)
    shapes = jax.tree_util.tree_map(jnp.shape, written.init(jax.random.key(3), x))
    assert shapes == jax.tree_util.tree_map(jnp.shape, variables)
    np.testing.assert_allclose(written.apply(variables, x), ours.apply(variables, x), rtol=1e-5, atol=1e-5)
    rngs, mutable = {"dropout": jax.random.key(1)}, ["batch_stats"]
    trained = [model.apply(variables, x, train=True, rngs=rngs, mutable=mutable) for model in (written, ours)]
    for ours_, theirs in zip(*(jax.tree_util.tree_leaves(one) for one in trained), strict=True):
        np.testing.assert_allclose(ours_, theirs, rtol=1e-5, atol=1e-5)  # outputs and BatchNorm's new averages


def test_a_plain_mlps_linen_script_holds_only_what_it_uses():
    script = code_export.training_script(ModelSpec.mlp("64"), TrainConfig(), "linen")
    assert "custom_vjp" not in script and "flax flax" not in script and "with flax.linen and optax" in script
    for unused in ("def dense", "def conv", "def convt", "def maxpool", "def reshape", "nn.Conv", "Sequence",
                   "layers: Sequence", "BatchNorm(", "Dropout("):  # fmt: skip
        assert unused not in script
    assert "x = nn.relu(nn.Dense(64)(x.reshape((x.shape[0], -1))))" in script and "return MLP()" in script


def script_constants(script: str) -> dict:
    """The script's CONFIG and DATASET, read as Python values."""
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(script).body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("CONFIG", "DATASET")
    }


def test_the_cli_writes_a_script_from_a_checkpoint_or_from_model_options(tmp_path, capsys):
    target = tmp_path / "train.py"
    assert main(["export", "--checkpoint", str(CHECKPOINT), "--script", str(target), "--api", "nnx"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["api"] == "nnx" and summary["script"] == str(target)
    assert "class MLP(nnx.Module)" in target.read_text() and "nnx.Linear(784" in target.read_text()
    saved = checkpoint.load(CHECKPOINT).config
    assert script_constants(target.read_text())["CONFIG"] == {n: getattr(saved, n) for n in code_export.SCRIPT_SETTINGS}
    assert main(["export", "--layers", "256,batchnorm,dropout:0.2", "--script", str(target)]) == 0  # as the README
    script = target.read_text()
    assert script_constants(script) == {
        "CONFIG": {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 128, "epochs": 10, "seed": 0,
                   "momentum": 0.9, "weight_decay": 0.0001, "augment": True, "l2": 0.0, "noise": 0.0,
                   "train_fraction": 1.0},
        "DATASET": "mnist",
    }  # fmt: skip
    assert "x = nn.relu(nn.Dense(256)(x.reshape((x.shape[0], -1))))" in script and "x = nn.Dense(10)(x)" in script
    argv = ["export", "--model", "autoencoder", "--encoder", "64,batchnorm,8", "--decoder", "dropout:0.1,64",
            "--lr", "0.002", "--epochs", "2", "--train-fraction", "5%", "--dataset", "fashion_mnist",
            "--script", str(target)]  # fmt: skip
    assert main(argv) == 0
    script = target.read_text()
    assert "class AutoEncoder(nn.Module)" in script and "nn.BatchNorm(use_running_average=not train" in script
    constants = script_constants(script)
    assert constants["DATASET"] == "fashion_mnist" and "# Fashion-MNIST, downloaded by tensorflow-datasets" in script
    assert (constants["CONFIG"]["learning_rate"], constants["CONFIG"]["train_fraction"]) == (0.002, 0.05)


def test_the_cli_refuses_model_options_beside_a_checkpoint_in_one_line(tmp_path, capsys):
    argv = ["export", "--checkpoint", str(CHECKPOINT), "--script", str(tmp_path / "t.py"), "--layers", "64",
            "--epochs", "3"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == "error: --checkpoint holds the model and its settings: leave out --layers, --epochs\n"
    assert not (tmp_path / "t.py").exists()


@pytest.mark.parametrize(
    ("dataset", "download", "note"),
    [
        ("fashion_mnist", "fashion_mnist", None),
        ("kmnist", "kmnist", None),
        ("sample", "mnist", "bundled sample of 5,000 MNIST digits; this script downloads the whole of MNIST"),
        ("idx:/data/letters", "mnist", "The run trained on the IDX folder letters, which this script cannot download"),
        ("emnist_letters", "mnist", "The run trained on EMNIST letters, which this script cannot download"),
    ],
)
def test_a_script_downloads_the_runs_dataset_or_says_why_not(dataset, download, note):
    script = code_export.training_script(MLP, TrainConfig(), "nnx", dataset)
    assert script_constants(script)["DATASET"] == download
    header = " ".join(script[: script.index('"""', 3)].split())
    assert (note in header) if note else ("which this script cannot" not in header and "instead" not in header)


def test_a_script_downloads_from_the_addresses_of_tensorflow_datasets_builders():
    tfds = pytest.importorskip("tensorflow_datasets")
    assert {name: tfds.builder_cls(name).URL for name in code_export.DOWNLOAD_URLS} == code_export.DOWNLOAD_URLS


def test_a_scripts_training_subset_is_the_dashboards(sample):
    script = ast.parse(code_export.training_script(MLP, TrainConfig(train_fraction=0.1), "linen"))
    wanted = [node for node in script.body if "SUBSET_SEED" in ast.unparse(node) and not isinstance(node, ast.Expr)]
    namespace = {"np": np}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), "train.py", "exec"), namespace)
    assert "training_subset" in namespace and "train_and_evaluate" not in namespace
    for fraction in (0.013, 0.1, 0.37, 1.0):
        ours = training_indices(sample.train_labels, fraction)
        np.testing.assert_array_equal(namespace["training_subset"](sample.train_labels, fraction), ours)


def test_the_cli_refuses_a_script_path_it_cannot_write_in_one_line(tmp_path, capsys):
    assert main(["export", "--script", str(tmp_path / "missing" / "train.py")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --script") and "does not exist" in err and err.count("\n") == 1
    assert main(["export", "--checkpoint", str(tmp_path / "none.msgpack"), "--script", str(tmp_path / "t.py")]) == 2


def run_scripts(scripts: dict[str, str], folder: Path, data_dir: str) -> dict[str, dict]:
    """Run each script in its own process outside the repository (``python -I``: no project on the path),
    all at once, for one epoch; each one's final JSON line."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["JAX_PLATFORMS"] = "cpu"
    running = {}
    for name, source in scripts.items():
        path = folder / f"{name}.py"
        path.write_text(source)
        command = [sys.executable, "-I", str(path), "--idx-dir", data_dir, "--epochs", "1"]
        running[name] = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True)  # fmt: skip
    results = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=HANG_S)
        assert process.returncode == 0, err[-2000:]
        results[name] = json.loads(out.strip().splitlines()[-1])
    return results


@pytest.mark.slow
def test_exported_classifier_scripts_train_on_fashion_mnist_alike_in_linen_and_nnx(tmp_path, fashion_dir):
    """The MLP on every training image, and a small conv net (every kind of image layer but ConvTranspose)
    on a fixed 15% of them (its train_fraction), all four scripts at once."""
    config = TrainConfig(batch_size=64, epochs=1, seed=1, augment=False, l2=1e-5, noise=0.05)
    runs = {"mlp": (MLP, config), "conv": (CONV_CLASSIFIER, replace(config, train_fraction=0.15))}
    scripts = {f"{name}_{api}": code_export.training_script(spec, settings, api)
               for name, (spec, settings) in runs.items() for api in ("linen", "nnx")}  # fmt: skip
    results = run_scripts(scripts, tmp_path, fashion_dir)
    for name, trained_on in (("mlp", 60_000), ("conv", 9_000)):
        linen, nnx = results[f"{name}_linen"], results[f"{name}_nnx"]
        assert linen["train_images"] == nnx["train_images"] == trained_on
        assert linen["test_accuracy"] > 0.75 and nnx["test_accuracy"] > 0.75, results  # chance is 0.1
        assert abs(linen["test_accuracy"] - nnx["test_accuracy"]) <= 0.02, results


@pytest.mark.slow
def test_exported_autoencoder_scripts_beat_the_mean_image_alike_in_linen_and_nnx(tmp_path, fashion_dir):
    train_images, _ = read_idx_split(fashion_dir, "train")
    test_images, _ = read_idx_split(fashion_dir, "t10k")
    mean_image = (train_images / 255.0).mean(axis=0)
    baseline = float(np.mean((test_images / 255.0 - mean_image) ** 2))  # about 0.08 on Fashion-MNIST
    scripts = {api: code_export.training_script(AUTOENCODER, TrainConfig(epochs=1), api) for api in ("linen", "nnx")}
    results = run_scripts(scripts, tmp_path, fashion_dir)
    linen, nnx = results["linen"]["test_mse"], results["nnx"]["test_mse"]
    assert linen < baseline / 2 and nnx < baseline / 2, (baseline, results)
    assert abs(linen - nnx) <= 0.02 * baseline, (baseline, results)  # "2 points" of the baseline
