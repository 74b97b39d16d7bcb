"""ONNX export of a trained model, checked against onnxruntime before it is offered.

The model is exported in evaluation mode (Dropout off, BatchNorm's running averages), as
``model.apply(variables, x, train=False)``: its input ``images`` is float32 of shape
(batch, 28, 28, 1), pixels scaled to [0, 1] (the dataset's uint8 / 255), with a symbolic batch size;
its output is ``logits`` (a classifier) or ``reconstruction`` (an autoencoder). An autoencoder also
exports its ``encode`` (images -> code) and ``decode`` (code -> reconstruction) as graphs of their own.
The input and output names, the class names and the scaling are in each graph's metadata.

jax2onnx (the converter) patches flax and jax functions while it traces, for every thread of the
process; a server whose trainings compile in other threads therefore converts in a child process
(``convert_isolated``: ``python -m core.onnx_export`` with a checkpoint on stdin and a zip of the
graphs on stdout). The command line converts in its own process (``convert``).

Every export is checked (``check_graphs``): onnxruntime's outputs against ``model.apply`` on the
dataset's test images, at most ``TOLERANCE`` apart, and the same predicted class for every image;
``export_result`` refuses one that fails with an ExportError saying why.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import numpy as np

from core import models
from core.errors import CheckpointError, ExportError
from core.i18n import N_
from core.spec import ModelSpec
from core.training import TrainResult

#: The largest difference allowed between onnxruntime's outputs and ``model.apply``'s.
TOLERANCE = 1e-4
#: At most this many test images are checked (EMNIST has 40,000; all of MNIST's 10,000 are).
CHECK_IMAGES = 10_000
#: Images per onnxruntime / model.apply call while checking (the reference compiles once for this size).
CHUNK = 1_000
#: What the input of a model is, in words, written into its metadata.
SCALING = "float32 pixels in [0, 1]: the 8-bit image divided by 255 (0 = black background, 1 = white ink)"
ONNX_OPSET = 23
#: How long the child process of ``convert_isolated`` may take before it is ended (guards a hang only).
ISOLATED_TIMEOUT_S = 600
_LOGGERS = ("jax2onnx", "onnx_ir", "onnx")
_convert_lock = threading.Lock()


@dataclass(frozen=True)
class Graph:
    """One exported ONNX graph: ``model`` (the whole model), ``encode`` or ``decode``, and its file's bytes."""

    name: str
    input_name: str
    output_name: str
    data: bytes

    def file_name(self, stem: str) -> str:
        """``stem.onnx`` for the whole model, ``stem.encode.onnx`` for a part."""
        return f"{stem}.onnx" if self.name == GRAPH_MODEL else f"{stem}.{self.name}.onnx"


GRAPH_MODEL = "model"


@dataclass(frozen=True)
class GraphPlan:
    """What one graph computes: ``function(x)`` for ``x`` of ``input_shape`` (``"batch"`` is symbolic)."""

    name: str
    function: Callable[[Any], Any]
    input_shape: tuple[Any, ...]
    input_name: str
    output_name: str
    method: str  # the model's method it applies: "__call__", "encode" or "decode"


def graph_plans(spec: ModelSpec, variables: Any) -> tuple[GraphPlan, ...]:
    """The graphs a model exports, each ``model.apply`` in evaluation mode: the whole model, and for a
    model with a code (an autoencoder) its encode and decode."""
    model = models.build_model(spec)
    variables = models.as_variables(variables)
    images = ("batch", *spec.input_shape)
    whole = "reconstruction" if spec.code_size is not None else "logits"
    plans = [GraphPlan(GRAPH_MODEL, partial(_apply, model, variables, None), images, "images", whole, "__call__")]
    if spec.code_size is not None:
        plans += [
            GraphPlan("encode", partial(_apply, model, variables, model.encode), images, "images", "code", "encode"),
            GraphPlan(
                "decode", partial(_apply, model, variables, model.decode), ("batch", spec.code_size), "code",
                "reconstruction", "decode",
            ),
        ]  # fmt: skip
    return tuple(plans)


def _apply(model, variables, method, x):
    return model.apply(variables, x, train=False, method=method)


def converter_version() -> str:
    return f"jax2onnx {metadata.version('jax2onnx')}"


def quiet_converter_logs() -> None:
    """jax2onnx and onnx_ir log warnings about their own internals (``The value type for shape [1] is not
    known``) that say nothing a person can act on."""
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def convert_function(function: Callable, input_shape: Sequence[Any], input_name: str, output_name: str) -> bytes:
    """``jax2onnx.to_onnx`` of one function of one float32 input, serialised; ExportError when jax2onnx
    cannot convert something in it (its reason in one line)."""
    from jax2onnx import to_onnx

    quiet_converter_logs()
    with _convert_lock:  # jax2onnx patches module-wide functions while it traces: one conversion at a time
        try:
            proto = to_onnx(
                function, [tuple(input_shape)], opset=ONNX_OPSET, input_names=[input_name], output_names=[output_name]
            )
        except Exception as err:  # the converter raises NotImplementedError, ValueError, TypeError...
            first_line = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
            raise ExportError(
                N_("{converter_version} cannot convert it: {first_line}"),
                converter_version=converter_version(),
                first_line=first_line,
            ) from None
    return proto.SerializeToString()


def convert(spec: ModelSpec, variables: Any) -> tuple[Graph, ...]:
    """The model's graphs, converted in this process (see the module's note on threads)."""
    graphs = []
    for plan in graph_plans(spec, variables):
        try:
            data = convert_function(plan.function, plan.input_shape, plan.input_name, plan.output_name)
        except ExportError as err:
            raise ExportError(
                N_("this model ({layer_titles}) cannot be exported to ONNX: {err}"),
                layer_titles=_layer_titles(spec),
                err=err,
            ) from None
        graphs.append(Graph(plan.name, plan.input_name, plan.output_name, data))
    return tuple(graphs)


def _layer_titles(spec: ModelSpec) -> str:
    titles = dict.fromkeys(type(layer).title for layer in spec.layers)
    return "layers: " + ", ".join(titles) if titles else "no hidden layers"


def convert_isolated(result: TrainResult) -> tuple[Graph, ...]:
    """``convert`` in a child process (``python -m core.onnx_export``), so that jax2onnx's patches never
    reach another thread of this one (a training compiling meanwhile). It traces on the CPU: a GPU's memory
    belongs to this process's trainings."""
    from core.runs import checkpoint

    data = checkpoint.to_bytes(dataclasses.replace(result, opt_state=None))  # the optimizer state is not exported
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(
            [sys.executable, "-m", "core.onnx_export"], input=data, capture_output=True, cwd=root,
            timeout=ISOLATED_TIMEOUT_S, check=False, env=os.environ | {"JAX_PLATFORMS": "cpu"},
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ExportError(N_("the ONNX converter could not run: {err}"), err=err) from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or [f"exit code {done.returncode}"]
        raise ExportError(lines[-1].removeprefix("error: "))
    return graphs_from_zip(done.stdout)


def graphs_to_zip(graphs: Sequence[Graph], stem: str = "model") -> bytes:
    """The graphs as one zip of ``stem.onnx``, ``stem.encode.onnx``...; ``graphs_from_zip`` reads it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for graph in graphs:
            archive.writestr(graph.file_name(stem), graph.data)
        archive.writestr(
            "graphs.json", json.dumps([[g.name, g.input_name, g.output_name, g.file_name(stem)] for g in graphs])
        )
    return buffer.getvalue()


def graphs_from_zip(data: bytes) -> tuple[Graph, ...]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            listed = json.loads(archive.read("graphs.json"))
            return tuple(Graph(name, i, o, archive.read(file)) for name, i, o, file in listed)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as err:
        raise ExportError(N_("the ONNX converter's answer could not be read: {err}"), err=err) from None


# ----- metadata ---------------------------------------------------------------------------------


def with_metadata(graph: Graph, spec: ModelSpec, class_names: Sequence[str], dataset: str) -> Graph:
    """The graph with what a person needs to use it written into the model's metadata (``metadata_props``,
    shown by Netron and ``InferenceSession.get_modelmeta().custom_metadata_map``)."""
    import onnx

    proto = onnx.load_from_string(graph.data)
    props = {
        "input": graph.input_name,
        "output": graph.output_name,
        "scaling": SCALING if graph.input_name == "images" else "the code that the encode graph outputs",
        "class_names": json.dumps(list(class_names)),
        "model": spec.describe(),
        "graph": graph.name,
        "dataset": dataset,
        "mode": "evaluation: Dropout off, BatchNorm uses its running averages",
        "exported_by": f"flax dashboard with {converter_version()}",
    }
    onnx.helper.set_model_props(proto, props)
    proto.doc_string = f"{spec.describe()} ({graph.name}): {graph.input_name} -> {graph.output_name}; {SCALING}"
    return dataclasses.replace(graph, data=proto.SerializeToString())


# ----- the check --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportCheck:
    """How an export compares with ``model.apply`` on ``images`` test images."""

    images: int
    max_abs_difference: float  # over every graph and every output value
    tolerance: float
    #: images whose predicted class (the largest logit) differs; None for a model without classes
    different_classes: int | None

    @property
    def passed(self) -> bool:
        return self.max_abs_difference <= self.tolerance and not self.different_classes

    def describe(self) -> str:
        """The check in plain words, for the page and the command line."""
        said = (
            f"Checked with onnxruntime on {self.images:,} test images: its outputs differ from the flax model's "
            f"by at most {plain_number(self.max_abs_difference)} (allowed: {plain_number(self.tolerance)})"
        )
        if self.different_classes is None:
            return said + "."
        if self.different_classes == 0:
            return said + ", and it predicts the same class for every image."
        return said + f", but it predicts another class for {self.different_classes:,} of them."

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"passed": self.passed}


def plain_number(value: float) -> str:
    """A small difference as a person reads it: ``0.0000076``, not ``7.6e-06``."""
    if value == 0 or not np.isfinite(value) or value >= 0.01:
        return f"{value:.3g}"
    return np.format_float_positional(value, precision=2, fractional=False, trim="-")


def compare_outputs(exported: np.ndarray, expected: np.ndarray, classes: bool) -> tuple[float, int | None]:
    """Max abs difference of two outputs, and (``classes``) how many rows' largest values are at another place."""
    exported, expected = np.asarray(exported, np.float32), np.asarray(expected, np.float32)
    if exported.shape != expected.shape:
        raise ExportError(
            N_("the exported model answers with shape {exported_shape}, the flax model with {expected_shape}"),
            exported_shape=exported.shape,
            expected_shape=expected.shape,
        )
    difference = float(np.max(np.abs(exported - expected))) if exported.size else 0.0
    if not np.isfinite(difference):
        difference = float("inf")
    if not classes:
        return difference, None
    return difference, int(np.sum(np.argmax(exported, axis=-1) != np.argmax(expected, axis=-1)))


@partial(jax.jit, static_argnums=(0, 1))
def _reference(spec: ModelSpec, method: str, variables: Any, x: jax.Array) -> jax.Array:
    model = models.build_model(spec)
    return model.apply(variables, x, train=False, method=None if method == "__call__" else getattr(model, method))


def reference_outputs(spec: ModelSpec, variables: Any, method: str, inputs: np.ndarray) -> np.ndarray:
    """``model.apply`` in evaluation mode over ``inputs`` in chunks of ``CHUNK`` (padded: one compile), on the
    CPU in full float32, as onnxruntime computes: a GPU's matrix products may round to TF32 by default."""
    cpu = jax.devices("cpu")[0]
    variables = jax.device_put(models.as_variables(variables), cpu)
    outputs = []
    with jax.default_matmul_precision("highest"):
        for start in range(0, len(inputs), CHUNK):
            chunk = inputs[start : start + CHUNK]
            padded = np.concatenate([chunk, np.zeros((CHUNK - len(chunk), *chunk.shape[1:]), chunk.dtype)])
            outputs.append(np.asarray(_reference(spec, method, variables, jax.device_put(padded, cpu)))[: len(chunk)])
    return np.concatenate(outputs)


def onnx_session(data: bytes):
    """An onnxruntime session of one graph on the CPU, one thread (it shares the server with trainings)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    try:
        return onnxruntime.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own error types (InvalidGraph, Fail...) are not public
        raise ExportError(N_("onnxruntime cannot load the exported model: {err}"), err=str(err).strip()[:300]) from None


def run_session(session, inputs: np.ndarray) -> np.ndarray:
    """onnxruntime's output of a one-input one-output graph over ``inputs``, in chunks of ``CHUNK``."""
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: inputs[s : s + CHUNK]})[0] for s in range(0, len(inputs), CHUNK)])


def as_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28, 1) as the float32 pixels in [0, 1] the exported model takes."""
    images = np.asarray(images)
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)


def check_graphs(spec: ModelSpec, variables: Any, graphs: Sequence[Graph], images: np.ndarray) -> ExportCheck:
    """Every graph's onnxruntime output against ``model.apply`` on the first ``CHECK_IMAGES`` of ``images``
    (the decode graph is fed the codes the flax model's encode gives)."""
    x = as_model_input(images[:CHECK_IMAGES])
    if not len(x):
        raise ExportError(N_("there are no test images to check the exported model on"))
    plans = {plan.name: plan for plan in graph_plans(spec, variables)}
    classes = spec.code_size is None
    inputs = {"images": x}
    worst, different = 0.0, None
    for graph in sorted(graphs, key=lambda g: g.name == "decode"):  # encode first: decode checks on its codes
        plan = plans[graph.name]
        expected = reference_outputs(spec, variables, plan.method, inputs[graph.input_name])
        exported = run_session(onnx_session(graph.data), inputs[graph.input_name])
        difference, mismatched = compare_outputs(exported, expected, classes and graph.name == GRAPH_MODEL)
        worst = max(worst, difference)
        different = mismatched if graph.name == GRAPH_MODEL else different
        inputs[graph.output_name] = expected
    return ExportCheck(len(x), worst, TOLERANCE, different)


# ----- the whole export -------------------------------------------------------------------------


@dataclass(frozen=True)
class OnnxExport:
    """A checked export: its graphs (with metadata) and the check they passed."""

    spec: ModelSpec
    graphs: tuple[Graph, ...]
    check: ExportCheck

    def files(self, stem: str) -> dict[str, bytes]:
        """File name -> bytes: ``stem.onnx`` (and ``stem.encode.onnx``, ``stem.decode.onnx``)."""
        return {graph.file_name(stem): graph.data for graph in self.graphs}

    def download(self, stem: str) -> tuple[str, bytes, str]:
        """(file name, bytes, media type) of one download: the .onnx file, or a zip of an autoencoder's three."""
        files = self.files(stem)
        if len(files) == 1:
            [(name, data)] = files.items()
            return name, data, "application/octet-stream"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        return f"{stem}-onnx.zip", buffer.getvalue(), "application/zip"


def export_result(
    result: TrainResult, images: np.ndarray, class_names: Sequence[str], isolated: bool = False
) -> OnnxExport:
    """Export a run's model and check it on ``images`` (the dataset's test images); ExportError when it
    cannot be converted or fails the check. ``isolated``: convert in a child process (a server)."""
    spec, variables = result.spec, result.variables
    graphs = convert_isolated(result) if isolated else convert(spec, variables)
    graphs = tuple(with_metadata(graph, spec, class_names, result.dataset) for graph in graphs)
    check = check_graphs(spec, variables, graphs, images)
    if not check.passed:
        raise ExportError(
            N_("the exported model is refused: it does not match the flax model. {check}"), check=check.describe()
        )
    return OnnxExport(spec, graphs, check)


def _child_main() -> int:
    """``python -m core.onnx_export``: a checkpoint on stdin, the zip of its graphs on stdout."""
    from core.runs import checkpoint

    answer = sys.stdout.buffer
    sys.stdout = sys.stderr  # whatever a library prints goes to stderr: stdout carries the zip alone
    try:
        result = checkpoint.from_bytes(sys.stdin.buffer.read(), "the run")
        data = graphs_to_zip(convert(result.spec, result.variables))
    except (ExportError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    answer.write(data)
    answer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
