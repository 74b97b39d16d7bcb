"""The check of an ONNX export in onnxruntime, against ``model.apply``, before it is offered.

Every graph of an export (``core.onnx_graphs``) is run by onnxruntime on the dataset's test images (at most
``CHECK_IMAGES``) and compared with ``model.apply`` in evaluation mode, on the CPU in full float32: at most
``TOLERANCE`` apart, and the same predicted class for every image (``check_graphs`` -> ``ExportCheck``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import numpy as np

from core import models
from core.errors import ExportError
from core.i18n import N_, Phrase
from core.onnx_graphs import GRAPH_MODEL, Graph, graph_plans
from core.spec import ModelSpec

#: The largest difference allowed between onnxruntime's outputs and ``model.apply``'s.
TOLERANCE = 1e-4
#: At most this many test images are checked (EMNIST has 40,000; all of MNIST's 10,000 are).
CHECK_IMAGES = 10_000
#: Images per onnxruntime / model.apply call while checking (the reference compiles once for this size).
CHUNK = 1_000


@dataclass(frozen=True)
class ExportCheck:
    """How an export compares with ``model.apply`` on the first ``images`` of ``test_images`` test images."""

    images: int
    max_abs_difference: float  # over every graph and every output value
    tolerance: float
    #: images whose predicted class (the largest logit) differs; None for a model without classes
    different_classes: int | None
    #: how many test images the dataset has (None: as many as were checked)
    test_images: int | None = None
    #: (graph name, its max abs difference) for each graph: ``model``, and an autoencoder's ``encode``, ``decode``
    graph_differences: tuple[tuple[str, float], ...] = ()

    @property
    def passed(self) -> bool:
        return self.max_abs_difference <= self.tolerance and not self.different_classes

    @property
    def worst_graph(self) -> str | None:
        """The graph whose outputs differ the most (None when the differences are not known per graph)."""
        return max(self.graph_differences, key=lambda pair: pair[1])[0] if self.graph_differences else None

    def describe(self) -> Phrase:
        """The check in plain words: English as a ``str`` (the command line), ``.text(_)`` in a visitor's."""
        if self.test_images is not None and self.test_images > self.images:
            checked = Phrase(
                N_("the first {images:,} of {total:,} test images"), images=self.images, total=self.test_images
            )
        else:
            checked = Phrase(N_("{images:,} test images"), images=self.images)
        values = {
            "checked": checked, "difference": plain_number(self.max_abs_difference),
            "tolerance": plain_number(self.tolerance),
        }  # fmt: skip
        if self.different_classes is None:
            return Phrase(CHECK_WORDS, **values)
        if self.different_classes == 0:
            return Phrase(CHECK_WORDS_SAME_CLASSES, **values)
        return Phrase(CHECK_WORDS_OTHER_CLASSES, classes=self.different_classes, **values)

    def to_dict(self) -> dict[str, Any]:
        """The numbers, for the command line's JSON line and the autoencoder's zip (``check.json``)."""
        numbers = dataclasses.asdict(self) | {"passed": self.passed, "graph_differences": dict(self.graph_differences)}
        return numbers | {"test_images": self.images if self.test_images is None else self.test_images}


CHECK_WORDS = N_(
    "Checked with onnxruntime on {checked}: its outputs differ from the flax model's by at most {difference} "
    "(allowed: {tolerance})."
)
CHECK_WORDS_SAME_CLASSES = N_(
    "Checked with onnxruntime on {checked}: its outputs differ from the flax model's by at most {difference} "
    "(allowed: {tolerance}), and it predicts the same class for every image."
)
CHECK_WORDS_OTHER_CLASSES = N_(
    "Checked with onnxruntime on {checked}: its outputs differ from the flax model's by at most {difference} "
    "(allowed: {tolerance}), but it predicts another class for {classes:,} of them."
)


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
    differences, different = {}, None
    for graph in sorted(graphs, key=lambda g: g.name == "decode"):  # encode first: decode checks on its codes
        plan = plans[graph.name]
        expected = reference_outputs(spec, variables, plan.method, inputs[graph.input_name])
        exported = run_session(onnx_session(graph.data), inputs[graph.input_name])
        difference, mismatched = compare_outputs(exported, expected, classes and graph.name == GRAPH_MODEL)
        differences[graph.name] = difference
        different = mismatched if graph.name == GRAPH_MODEL else different
        inputs[graph.output_name] = expected
    in_order = tuple((graph.name, differences[graph.name]) for graph in graphs)
    return ExportCheck(len(x), max(differences.values(), default=0.0), TOLERANCE, different, len(images), in_order)
