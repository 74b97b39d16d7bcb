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

The graphs and their conversion are in ``core.onnx_graphs``, the check in ``core.onnx_check``; this
module puts them together. Every export is checked (``check_graphs``): onnxruntime's outputs against
``model.apply`` on the dataset's test images, at most ``TOLERANCE`` apart, and the same predicted class
for every image; ``export_result`` refuses one that fails with an ExportError saying why.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import CheckpointError, ExportError
from core.i18n import N_
from core.onnx_check import TOLERANCE, ExportCheck, as_model_input, check_graphs, onnx_session, run_session
from core.onnx_graphs import (
    Graph,
    convert,
    convert_function,
    converter_version,
    graphs_from_zip,
    graphs_to_zip,
    with_metadata,
)
from core.spec import ModelSpec
from core.training import TrainResult

#: What ``from core.onnx_export import ...`` gives: the export, and the parts its callers and tests use.
__all__ = [
    "TOLERANCE", "ExportCheck", "Graph", "OnnxExport", "as_model_input", "check_graphs", "convert",
    "convert_checkpoint", "convert_function", "convert_isolated", "converter_version", "export_result",
    "onnx_session", "run_converter", "run_session",
]  # fmt: skip

#: The check's numbers in a zip of several graphs (``ExportCheck.to_dict``).
CHECK_FILE = "check.json"
#: How long the child process of ``convert_isolated`` may take before it is ended (guards a hang only).
ISOLATED_TIMEOUT_S = 600


def convert_isolated(result: TrainResult) -> tuple[Graph, ...]:
    """``convert`` in a child process (``python -m core.onnx_export``), so that jax2onnx's patches never
    reach another thread of this one (a training compiling meanwhile). It traces on the CPU: a GPU's memory
    belongs to this process's trainings."""
    from core.runs import checkpoint

    data = checkpoint.to_bytes(dataclasses.replace(result, opt_state=None))  # the optimizer state is not exported
    return graphs_from_zip(run_converter(data))


def run_converter(data: bytes) -> bytes:
    """``convert_checkpoint(data)`` done by a child process: a checkpoint's bytes in, the zip of its graphs out."""
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
    return done.stdout


def convert_checkpoint(data: bytes) -> bytes:
    """The child process's work: a checkpoint's bytes -> the zip of its model's graphs (``graphs_to_zip``)."""
    from core.runs import checkpoint

    result = checkpoint.from_bytes(data, "the run")
    return graphs_to_zip(convert(result.spec, result.variables))


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
        """(file name, bytes, media type) of one download: the .onnx file, or a zip of an autoencoder's three
        and ``check.json`` (the check's numbers, with each graph's max abs difference)."""
        files = self.files(stem)
        if len(files) == 1:
            [(name, data)] = files.items()
            return name, data, "application/octet-stream"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
            archive.writestr(CHECK_FILE, json.dumps(self.check.to_dict(), indent=2))
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
    if check.passed:
        return OnnxExport(spec, graphs, check)
    if len(graphs) > 1:  # an autoencoder's: which of its three graphs
        raise ExportError(
            N_("the exported model is refused: its {graph} graph does not match the flax model. {check}"),
            graph=check.worst_graph,
            check=check.describe(),
        )
    raise ExportError(
        N_("the exported model is refused: it does not match the flax model. {check}"), check=check.describe()
    )


def _child_main() -> int:
    """``python -m core.onnx_export``: a checkpoint on stdin, the zip of its graphs on stdout."""
    answer = sys.stdout.buffer
    sys.stdout = sys.stderr  # whatever a library prints goes to stderr: stdout carries the zip alone
    try:
        data = convert_checkpoint(sys.stdin.buffer.read())
    except (ExportError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    answer.write(data)
    answer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
