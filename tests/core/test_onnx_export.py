"""ONNX export (core/onnx_export.py and ``python -m core export``): every kind of layer and model is
exported, loaded in onnxruntime and gives model.apply's outputs; a wrong graph is refused.

A new kind of layer is one more entry of ``MODELS``: its items as ``--layers`` takes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import onnxruntime
import pytest

from core import models, onnx_export
from core.cli import main
from core.errors import ExportError
from core.layer_items import parse_layers
from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.waits import HANG_S

ROOT = Path(__file__).resolve().parents[2]

#: model name -> (kind, layers of an MLP / encoder, decoder): every kind of layer, in both kinds of model
MODELS = {
    "dense": ("mlp", "32:relu,16:tanh", None),
    "dropout": ("mlp", "32,dropout:0.3", None),
    "batchnorm": ("mlp", "32,batchnorm", None),
    "layernorm": ("mlp", "32:gelu,layernorm", None),
    "autoencoder": ("autoencoder", "32,batchnorm,dropout:0.2,8", "layernorm,32:swish"),
    "conv": ("mlp", "conv:4:3,batchnorm,maxpool,conv:8:3:gelu,avgpool,dropout:0.2,16", None),
    "conv-autoencoder": ("autoencoder", "conv:4:3,maxpool,conv:8,maxpool,8", "convt:8,convt:4"),
}


def model_spec(name: str) -> ModelSpec:
    kind, layers, decoder = MODELS[name]
    if decoder is None:
        return ModelSpec(kind=kind, hidden=parse_layers(layers, "--layers", "relu"))
    encoder = parse_layers(layers, "--encoder", "relu", code_activation="linear")
    return ModelSpec(kind=kind, encoder=encoder, decoder=parse_layers(decoder, "--decoder", "relu"))


def shaken(variables: dict, seed: int) -> dict:
    """The initial variables moved away from their starting values, as training moves them: every value
    scaled and moved a little, BatchNorm's running means away from 0 and its variances from 1 (so that
    evaluation mode differs from any batch's own statistics)."""
    rng = np.random.default_rng(seed)

    def move(a, positive: bool):
        moved = np.asarray(a) * rng.uniform(0.5, 1.5, np.shape(a)) + rng.normal(0, 0.2, np.shape(a))
        return (np.abs(moved) if positive else moved).astype(np.float32)

    return {
        collection: jax.tree_util.tree_map(lambda a, c=collection: move(a, positive=c == "batch_stats"), tree)
        for collection, tree in variables.items()
    }


@pytest.fixture(scope="module")
def exported():
    """name -> (spec, variables, graphs): each model converted once for the tests below."""
    cache = {}

    def get(name: str):
        if name not in cache:
            spec = model_spec(name)
            variables = shaken(models.init_variables(spec), seed=len(cache))
            cache[name] = spec, variables, onnx_export.convert(spec, variables)
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(MODELS))
def test_every_kind_of_layer_and_model_gives_model_apply_outputs_in_onnxruntime(exported, sample, name):
    spec, variables, graphs = exported(name)
    check = onnx_export.check_graphs(spec, variables, graphs, sample.test_images)
    assert check.images == 500 and check.passed
    assert check.max_abs_difference < 1e-4
    assert check.different_classes == (None if spec.code_size else 0)
    if "batchnorm" in MODELS[name][1]:  # evaluation mode: the running averages, not the batch's statistics
        x = onnx_export.as_model_input(sample.test_images[:64])
        rngs = {"dropout": jax.random.key(0)}
        batch_mode, _ = models.forward(models.build_model(spec), variables, x, train=True, rngs=rngs)
        exported_out = onnx_export.run_session(onnx_export.onnx_session(graphs[0].data), x)
        assert np.max(np.abs(exported_out - np.asarray(batch_mode))) > 0.1


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("batch", [1, 1000])
def test_the_batch_size_is_symbolic(exported, sample, name, batch):
    spec, variables, graphs = exported(name)
    images = onnx_export.as_model_input(sample.train_images[:batch])
    session = onnx_export.onnx_session(graphs[0].data)
    [given] = session.get_inputs()
    assert given.name == "images" and isinstance(given.shape[0], str) and given.shape[1:] == [28, 28, 1]
    out = session.run(None, {"images": images})[0]
    expected = np.asarray(models.build_model(spec).apply(variables, images, train=False))
    assert out.shape == expected.shape == ((batch, 28, 28, 1) if spec.code_size else (batch, 10))
    assert np.max(np.abs(out - expected)) < 1e-4


def test_an_autoencoder_exports_its_encode_and_decode(exported, sample):
    spec, variables, graphs = exported("autoencoder")
    by_name = {g.name: onnx_export.onnx_session(g.data) for g in graphs}
    assert [(g.name, g.input_name, g.output_name) for g in graphs] == [
        ("model", "images", "reconstruction"),
        ("encode", "images", "code"),
        ("decode", "code", "reconstruction"),
    ]
    x = onnx_export.as_model_input(sample.test_images[:100])
    code = by_name["encode"].run(None, {"images": x})[0]
    assert code.shape == (100, 8)
    model = models.build_model(spec)
    assert np.max(np.abs(code - np.asarray(model.apply(variables, x, method=model.encode)))) < 1e-4
    again = by_name["decode"].run(None, {"code": code})[0]
    whole = by_name["model"].run(None, {"images": x})[0]
    assert again.shape == whole.shape == (100, 28, 28, 1)
    assert np.max(np.abs(again - whole)) < 1e-4


def test_a_graph_of_other_weights_is_refused_with_the_reason(exported, sample):
    spec, _, graphs = exported("dense")
    other = shaken(models.init_variables(spec.replace(seed=7)), seed=7)
    check = onnx_export.check_graphs(spec, other, graphs, sample.test_images)
    assert not check.passed and check.max_abs_difference > 0.01 and check.different_classes > 0
    words = check.describe()
    assert "500 test images" in words and f"another class for {check.different_classes:,} of them" in words


def test_a_function_jax2onnx_cannot_convert_is_an_export_error():
    def eigenvalues(x):  # jax2onnx 0.17.1 converts eigh of single matrices only
        return jax.numpy.linalg.eigh(x.reshape(x.shape[0], 28, 28))[0]

    with pytest.raises(ExportError, match=r"^jax2onnx [0-9.]+ cannot convert it: .*eigh"):
        onnx_export.convert_function(eigenvalues, ("batch", 28, 28, 1), "images", "values")


@pytest.fixture(scope="module")
def trained(small, tmp_path_factory):
    """A short real training of a model with every kind of layer, saved as a checkpoint."""
    spec = ModelSpec(kind="mlp", hidden=parse_layers("32,batchnorm,dropout:0.2,layernorm,16", "--layers", "relu"))
    result = train(spec, TrainConfig(epochs=1, batch_size=64), small)
    path = checkpoint.save(tmp_path_factory.mktemp("onnx") / "run.msgpack", result)
    return result, path


def test_the_export_carries_its_names_classes_and_scaling(trained, small):
    result, _ = trained
    export = onnx_export.export_result(result, small.test_images, small.class_names)
    assert export.check.passed and export.check.images == 200
    name, data, media = export.download("run1")
    assert name == "run1.onnx" and media == "application/octet-stream"
    meta = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"]).get_modelmeta()
    props = meta.custom_metadata_map
    assert props["input"] == "images" and props["output"] == "logits"
    assert json.loads(props["class_names"]) == list(small.class_names) == [str(i) for i in range(10)]
    assert "[0, 1]" in props["scaling"] and "255" in props["scaling"]
    assert props["model"] == result.spec.describe() and "Dropout off" in props["mode"]


@pytest.mark.slow
def test_a_conversion_in_a_child_process_gives_the_same_model(trained, small):
    result, _ = trained
    export = onnx_export.export_result(result, small.test_images, small.class_names, isolated=True)
    assert export.check.passed and export.check.different_classes == 0
    assert [g.name for g in export.graphs] == ["model"]


def run_export(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = main(["export", "--dataset", "sample", *args])  # the checkpoint's data, "small", is the tests' own
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_writes_a_checked_onnx_file(trained, tmp_path):
    """As a person runs it (a process of its own, whose stderr shows whatever jax2onnx logs)."""
    _, path = trained
    target = tmp_path / "model.onnx"
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "core", "export", "--checkpoint", str(path), "--onnx", str(target), "--dataset",
         "sample"], capture_output=True, text=True, timeout=HANG_S, cwd=ROOT, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["onnx"] == [str(target)] and summary["passed"] is True
    assert summary["images"] == 500 and summary["max_abs_difference"] < 1e-4 and summary["different_classes"] == 0
    # progress in three lines, none of jax2onnx's own log warnings ("The value type for shape [1] is not known")
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 3, done.stderr
    assert lines[0].endswith("converting with jax2onnx 0.17.1 ...") and lines[2] == f"wrote {target}"
    assert lines[1].startswith("Checked with onnxruntime on 500 test images")
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    assert session.run(None, {"images": np.zeros((3, 28, 28, 1), np.float32)})[0].shape == (3, 10)


@pytest.mark.parametrize(
    ("checkpoint_at", "onnx_at", "words"),
    [
        (lambda tmp, good: str(tmp / "missing.msgpack"), lambda tmp: str(tmp / "m.onnx"), "cannot open checkpoint"),
        (lambda tmp, good: good, lambda tmp: str(tmp / "no-folder" / "m.onnx"), "does not exist"),
        (lambda tmp, good: good, lambda tmp: str(tmp), "is a folder"),
        (lambda tmp, good: good, lambda tmp: "/proc/flax-dashboard-model.onnx", "cannot be written"),
        (lambda tmp, good: _damaged(tmp, good), lambda tmp: str(tmp / "m.onnx"), "not a checkpoint"),
        (lambda tmp, good: good, lambda tmp: None, "give --onnx FILE"),
    ],
    ids=["missing-checkpoint", "no-folder", "a-folder", "unwritable", "damaged-checkpoint", "no-onnx"],
)
def test_the_cli_refuses_bad_inputs_with_one_line(trained, tmp_path, capsys, checkpoint_at, onnx_at, words):
    good = str(trained[1])
    onnx_path = onnx_at(tmp_path)
    args = ["--checkpoint", checkpoint_at(tmp_path, good), *(["--onnx", onnx_path] if onnx_path else [])]
    code, out, err = run_export(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1, (code, out, err)
    assert lines[0].startswith("error: ") and words in lines[0] and len(lines[0]) < 300, lines[0]
    assert not list(tmp_path.glob("*.onnx"))


def _damaged(tmp, good: str) -> str:
    """The checkpoint with its second half cut off."""
    data = Path(good).read_bytes()
    path = tmp / "damaged.msgpack"
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def test_the_check_is_said_in_plain_numbers():
    check = onnx_export.ExportCheck(images=500, max_abs_difference=7.6e-06, tolerance=1e-4, different_classes=0)
    assert check.passed and check.describe() == (
        "Checked with onnxruntime on 500 test images: its outputs differ from the flax model's by at most "
        "0.0000076 (allowed: 0.0001), and it predicts the same class for every image."
    )
    rebuilt = onnx_export.ExportCheck(images=10_000, max_abs_difference=2.5e-4, tolerance=1e-4, different_classes=None)
    assert not rebuilt.passed and rebuilt.describe().endswith("by at most 0.00025 (allowed: 0.0001).")
