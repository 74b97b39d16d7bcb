"""The ONNX graphs of a model and their conversion by jax2onnx (``core.onnx_export`` checks and offers them).

A model exports ``model.apply(variables, x, train=False)`` as the graph ``model`` (input ``images``, float32
(batch, 28, 28, 1) in [0, 1]; output ``logits`` or ``reconstruction``), and an autoencoder also its
``encode`` and ``decode`` (``graph_plans``). ``convert`` converts them in this process (jax2onnx patches
flax and jax functions while it traces: one conversion at a time); ``graphs_to_zip`` / ``graphs_from_zip``
carry them across a process boundary; ``with_metadata`` writes what a person needs to use one.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from typing import Any

from core import models
from core.errors import ExportError
from core.i18n import N_
from core.spec import ModelSpec

#: What the input of a model is, in words, written into its metadata.
SCALING = "float32 pixels in [0, 1]: the 8-bit image divided by 255 (0 = black background, 1 = white ink)"
ONNX_OPSET = 23
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
