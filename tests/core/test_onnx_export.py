"""ONNX export (core/onnx_export.py and ``python -m core export``): every kind of layer and model is
exported, loaded in onnxruntime and gives model.apply's outputs; a wrong graph is refused.

A new kind of layer is one more entry of ``MODELS``: its items as ``--layers`` takes them (a test fails
until every kind of ``core.layer_kinds.KINDS`` and every activation is in one of them)."""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import jax
import numpy as np
import onnxruntime
import pytest

from core import models, onnx_check, onnx_export
from core.cli import main
from core.errors import ExportError
from core.i18n import translations
from core.layer_items import parse_layers
from core.layer_kinds import KINDS
from core.layers import ACTIVATIONS
from core.onnx_check import plain_number
from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.waits import HANG_S

ROOT = Path(__file__).resolve().parents[2]
JAPANESE = translations("ja").gettext

#: model name -> (kind, layers of an MLP / encoder, decoder): every kind of layer and every activation, in
#: both kinds of model
MODELS = {
    "dense": ("mlp", "32:relu,16:tanh", None),
    "dropout": ("mlp", "32:sigmoid,dropout:0.3", None),
    "batchnorm": ("mlp", "32:elu,batchnorm", None),
    "layernorm": ("mlp", "32:leaky_relu,layernorm", None),
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


def test_every_kind_of_layer_and_every_activation_is_in_a_model_here():
    layers = [layer for name in MODELS for layer in model_spec(name).layers]
    assert {type(layer) for layer in layers} == set(KINDS)
    assert {layer.activation for layer in layers if hasattr(layer, "activation")} == set(ACTIVATIONS)


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
    """Every graph (an autoencoder's encode and decode too) takes a batch of 1 and of 1,000."""
    spec, variables, graphs = exported(name)
    model = models.build_model(spec)
    inputs = {"images": onnx_export.as_model_input(sample.train_images[:batch])}
    shapes = {"images": (batch, 28, 28, 1), "logits": (batch, 10), "code": (batch, spec.code_size)}
    shapes["reconstruction"] = shapes["images"]
    for graph in graphs:  # encode before decode: decode takes the flax model's codes
        session = onnx_export.onnx_session(graph.data)
        [given] = session.get_inputs()
        assert given.name == graph.input_name and isinstance(given.shape[0], str)
        assert given.shape[1:] == list(shapes[graph.input_name][1:])
        out = session.run(None, {graph.input_name: inputs[graph.input_name]})[0]
        method = None if graph.name == "model" else getattr(model, graph.name)
        expected = np.asarray(model.apply(variables, inputs[graph.input_name], train=False, method=method))
        assert out.shape == expected.shape == shapes[graph.output_name]
        assert np.max(np.abs(out - expected)) < 1e-4, graph.name
        inputs[graph.output_name] = expected


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


def run_with(trained_run, spec: ModelSpec, variables: dict):
    """A run of ``spec`` whose model has ``variables`` (the fixture's training, another model's weights;
    no optimizer state, as a sweep's models)."""
    batch_stats = variables.get("batch_stats", {})
    return dataclasses.replace(
        trained_run, spec=spec, params=variables["params"], batch_stats=batch_stats, opt_state=None
    )


def test_an_export_of_other_weights_is_refused_with_the_difference_and_the_images(exported, trained, small,
                                                                                    monkeypatch):  # fmt: skip
    spec, _, graphs = exported("dense")
    other = shaken(models.init_variables(spec.replace(seed=7)), seed=7)
    monkeypatch.setattr(onnx_export, "convert", lambda *_: graphs)  # a conversion of other weights than the run's
    with pytest.raises(ExportError) as refused:
        onnx_export.export_result(run_with(trained[0], spec, other), small.test_images, small.class_names)
    check = onnx_export.check_graphs(spec, other, graphs, small.test_images)
    assert not check.passed and check.max_abs_difference > 0.01 and check.different_classes > 0
    assert str(refused.value) == (
        "the exported model is refused: it does not match the flax model. Checked with onnxruntime on 200 test "
        f"images: its outputs differ from the flax model's by at most {plain_number(check.max_abs_difference)} "
        f"(allowed: 0.0001), but it predicts another class for {check.different_classes:,} of them."
    )
    japanese = refused.value.text(JAPANESE)  # the check's words are translated with the refusal's
    assert japanese.startswith(
        "書き出したモデルは使えません。flax のモデルと一致しません。onnxruntime でテスト画像 200 枚"
    )
    assert f"{check.different_classes:,} 枚で別のクラス" in japanese and "Checked" not in japanese


def test_an_autoencoder_with_a_wrong_decode_graph_is_refused_naming_it(exported, trained, small, monkeypatch):
    spec, variables, graphs = exported("autoencoder")
    assert [g.name for g in graphs] == ["model", "encode", "decode"]
    other_decode = exported("conv-autoencoder")[2][2]  # also code (batch, 8) -> (batch, 28, 28, 1)
    tampered = (*graphs[:2], dataclasses.replace(graphs[2], data=other_decode.data))
    check = onnx_export.check_graphs(spec, variables, tampered, small.test_images)
    differences = dict(check.graph_differences)
    assert differences["model"] < 1e-4 and differences["encode"] < 1e-4 and differences["decode"] > 0.01
    assert check.worst_graph == "decode" and check.max_abs_difference == differences["decode"]
    monkeypatch.setattr(onnx_export, "convert", lambda *_: tampered)
    with pytest.raises(ExportError, match=r"^the exported model is refused: its decode graph does not match"):
        onnx_export.export_result(run_with(trained[0], spec, variables), small.test_images, small.class_names)


def test_an_autoencoder_downloads_as_one_zip_with_the_numbers_of_its_check(exported, trained, small, monkeypatch):
    spec, variables, graphs = exported("autoencoder")
    monkeypatch.setattr(onnx_export, "convert", lambda *_: graphs)  # the fixture's conversion of this very model
    export = onnx_export.export_result(run_with(trained[0], spec, variables), small.test_images, small.class_names)
    name, data, media = export.download("run3")
    assert name == "run3-onnx.zip" and media == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(archive.namelist()) == ["check.json", "run3.decode.onnx", "run3.encode.onnx", "run3.onnx"]
    numbers = json.loads(archive.read("check.json"))
    assert numbers == export.check.to_dict() and numbers["passed"] is True
    assert numbers["images"] == numbers["test_images"] == 200 and numbers["tolerance"] == 1e-4
    assert numbers["different_classes"] is None and list(numbers["graph_differences"]) == ["model", "encode", "decode"]
    assert max(numbers["graph_differences"].values()) == numbers["max_abs_difference"] < 1e-4
    for graph in export.graphs:
        session = onnxruntime.InferenceSession(
            archive.read(graph.file_name("run3")), providers=["CPUExecutionProvider"]
        )
        assert session.get_modelmeta().custom_metadata_map["graph"] == graph.name


def test_the_check_says_it_checked_the_first_images_of_a_larger_test_set(exported, sample, monkeypatch):
    spec, variables, graphs = exported("dense")
    monkeypatch.setattr(onnx_check, "CHECK_IMAGES", 100)
    check = onnx_export.check_graphs(spec, variables, graphs, sample.test_images)
    assert check.passed and check.images == 100 and check.test_images == 500
    assert check.describe().startswith("Checked with onnxruntime on the first 100 of 500 test images: ")
    assert check.describe().text(JAPANESE).startswith("onnxruntime でテスト画像 500 枚のうち最初の 100 枚を使って")
    assert check.to_dict()["images"] == 100 and check.to_dict()["test_images"] == 500


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


@pytest.fixture(scope="module")
def trained_export(trained, small):
    """The trained model's checked export."""
    return onnx_export.export_result(trained[0], small.test_images, small.class_names)


def test_the_export_carries_its_names_classes_and_scaling(trained, trained_export, small):
    result, _ = trained
    export = trained_export
    assert export.check.passed and export.check.images == 200
    name, data, media = export.download("run1")
    assert name == "run1.onnx" and media == "application/octet-stream"
    meta = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"]).get_modelmeta()
    props = meta.custom_metadata_map
    assert props["input"] == "images" and props["output"] == "logits"
    assert json.loads(props["class_names"]) == list(small.class_names) == [str(i) for i in range(10)]
    assert "[0, 1]" in props["scaling"] and "255" in props["scaling"]
    assert props["model"] == result.spec.describe() and "Dropout off" in props["mode"]


def test_the_readme_onnx_snippet_runs_on_an_exported_model(trained, trained_export, small, tmp_path, monkeypatch,
                                                           capsys):  # fmt: skip
    section = re.search(r"### Taking a model elsewhere: ONNX\n(.*?)\n#", (ROOT / "README.md").read_text(), re.S)
    [snippet] = re.findall(r"```python\n(.*?)```", section.group(1), re.S)
    assert len([line for line in snippet.splitlines() if line.strip()]) == 5  # "in five lines"
    (tmp_path / "model.onnx").write_bytes(trained_export.download("model")[1])
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "README.md", "exec"), {})
    printed = ast.literal_eval(capsys.readouterr().out)
    result = trained[0]
    zeros = np.zeros((4, 28, 28, 1), np.float32)
    logits = models.build_model(result.spec).apply(result.variables, zeros, train=False)
    assert printed == [small.class_names[i] for i in np.argmax(logits, axis=1)] and len(printed) == 4


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


def test_the_cli_refuses_a_model_that_fails_the_check_with_one_line(exported, trained, tmp_path, capsys,
                                                                     monkeypatch):  # fmt: skip
    spec, _, graphs = exported("dense")
    other = shaken(models.init_variables(spec.replace(seed=7)), seed=7)
    saved = checkpoint.save(tmp_path / "other.msgpack", run_with(trained[0], spec, other))
    monkeypatch.setattr(onnx_export, "convert", lambda *_: graphs)  # a conversion of other weights than the run's
    code, out, err = run_export(capsys, "--checkpoint", str(saved), "--onnx", str(tmp_path / "m.onnx"), "--quiet")
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1, (code, out, err)
    assert lines[0].startswith("error: the exported model is refused: it does not match the flax model. Checked ")
    assert "on 500 test images" in lines[0] and re.search(
        r"but it predicts another class for [0-9,]+ of them\.$", lines[0]
    )
    assert not list(tmp_path.glob("*.onnx"))


def test_the_cli_writes_an_autoencoders_three_graphs_or_one_zip(exported, trained, tmp_path, capsys, monkeypatch):
    spec, variables, graphs = exported("autoencoder")
    saved = checkpoint.save(tmp_path / "ae.msgpack", run_with(trained[0], spec, variables))
    monkeypatch.setattr(onnx_export, "convert", lambda *_: graphs)  # the fixture's conversion of this very model
    code, out, err = run_export(capsys, "--checkpoint", str(saved), "--onnx", str(tmp_path / "ae.onnx"), "--quiet")
    assert code == 0, err
    written = [str(tmp_path / name) for name in ("ae.onnx", "ae.encode.onnx", "ae.decode.onnx")]
    summary = json.loads(out)
    assert summary["onnx"] == written and summary["passed"] is True
    assert list(summary["graph_differences"]) == ["model", "encode", "decode"]
    for path, graph in zip(written, ["model", "encode", "decode"], strict=True):
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        assert session.get_modelmeta().custom_metadata_map["graph"] == graph
    code, out, err = run_export(capsys, "--checkpoint", str(saved), "--onnx", str(tmp_path / "ae.zip"), "--quiet")
    assert code == 0, err
    assert json.loads(out)["onnx"] == [str(tmp_path / "ae.zip")]
    names = zipfile.ZipFile(tmp_path / "ae.zip").namelist()
    assert sorted(names) == ["ae.decode.onnx", "ae.encode.onnx", "ae.onnx", "check.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ae.decode.onnx", "ae.encode.onnx", "ae.msgpack", "ae.onnx",
                                                          "ae.zip"]  # fmt: skip


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
