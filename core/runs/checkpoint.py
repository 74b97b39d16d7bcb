"""Save and load a trained model: params (+ optimiser state, + a BatchNorm model's batch_stats) as
msgpack, spec and history as JSON.

One file holds everything: ``flax.serialization.msgpack_serialize`` of a dict whose
array leaves are the params and optimiser state and whose text fields are JSON. Loading
never unpickles (msgpack carries only numbers, strings, bytes and flax's raw ndarray
encoding), checks every field and checks that the params have exactly the shapes the
stored spec builds, so a hostile or damaged file can only produce a CheckpointError.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from core import models
from core.errors import CheckpointError, CoreError
from core.files import write_atomic
from core.i18n import N_
from core.spec import ModelSpec
from core.training import Status, TrainConfig, TrainResult
from core.training.history import History
from core.training.optimizer import fresh_state
from core.variables import path_to_str

FORMAT = "flax-dashboard-checkpoint"
VERSION = 1
#: Largest checkpoint accepted: params + Adam moments of the biggest allowed model fit well below.
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024


def to_bytes(result: TrainResult) -> bytes:
    """Serialise a run (spec, settings, history, params, optimiser state) to msgpack bytes."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "spec": result.spec.to_json(),
        "config": json.dumps(result.config.to_dict()),
        "dataset": result.dataset,
        "history": json.dumps(result.history.to_dict()),
        "run": json.dumps(
            {
                "status": result.status,
                "reason": result.reason,
                "compile_s": result.compile_s,
                "train_s": result.train_s,
                "samples_per_s": result.samples_per_s,
                "extra": result.extra,
            }
        ),
        "params": _numpy_tree(serialization.to_state_dict(result.params)),
        "opt_state": _numpy_tree(serialization.to_state_dict(result.opt_state)) if result.opt_state is not None else {},
        # BatchNorm models only: checkpoints of Dense-only models stay byte-for-byte what earlier versions wrote
        **({"batch_stats": _numpy_tree(serialization.to_state_dict(result.batch_stats))} if result.batch_stats else {}),
    }
    return serialization.msgpack_serialize(payload)


def _numpy_tree(tree: Any) -> Any:
    return jax.tree_util.tree_map(np.asarray, tree)


def save(path: str | Path, result: TrainResult) -> Path:
    """Write the checkpoint atomically: a crash mid-write never replaces a good file with half of one."""
    path = Path(path)
    data = to_bytes(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, data)


def load(path: str | Path) -> TrainResult:
    """Read a checkpoint file written by ``save``; CheckpointError for anything else."""
    path = Path(path)
    try:
        info = path.stat()
    except (OSError, ValueError) as err:  # ValueError: a NUL byte in the name
        raise CheckpointError(
            N_("cannot open checkpoint {path}: {value}"), path=path, value=getattr(err, "strerror", None) or err
        ) from None
    if not stat.S_ISREG(info.st_mode):  # /dev/zero never ends and a FIFO blocks: only plain files are read
        raise CheckpointError(N_("{path_name} is not a regular file, so it is not a checkpoint"), path_name=path.name)
    if info.st_size > MAX_CHECKPOINT_BYTES:
        megabytes = info.st_size / 1e6
        raise CheckpointError(
            N_("{path_name} is {megabytes:,.0f} MB, larger than any checkpoint this tool writes"),
            path_name=path.name,
            megabytes=megabytes,
        )
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the check, opening it does not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise CheckpointError(
                    N_("{path_name} is not a regular file, so it is not a checkpoint"), path_name=path.name
                )
            data = file.read(MAX_CHECKPOINT_BYTES + 1)  # bounded even if the file grows meanwhile
    except OSError as err:
        raise CheckpointError(
            N_("cannot read checkpoint {path}: {value}"), path=path, value=err.strerror or err
        ) from None
    return from_bytes(data, source=path.name)


def _payload(data: bytes, source: str) -> dict:
    """The decoded msgpack of a checkpoint of this tool and version; CheckpointError for anything else."""
    if not data:
        raise CheckpointError(N_("{source} is empty, not a checkpoint"), source=source)
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            N_("{source} is {data_count:,.0f} MB, larger than any checkpoint this tool writes"),
            source=source,
            data_count=len(data) / 1e6,
        )
    try:
        payload = serialization.msgpack_restore(data)
    except Exception:  # msgpack raises many types on garbage; none of them matter to the person
        raise CheckpointError(
            N_(
                "{source} is not a checkpoint of this tool (it is not msgpack data); a checkpoint"
                " is the .msgpack file that the Train page's 'Download checkpoint' button saves"
            ),
            source=source,
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            N_("{source} is msgpack data but not a checkpoint of this tool (no '{format}' marker)"),
            source=source,
            format=FORMAT,
        )
    if payload.get("version") != VERSION:
        raise CheckpointError(
            N_("{source} has checkpoint version {given!r}; this tool reads {version}"),
            source=source,
            given=payload.get("version"),
            version=VERSION,
        )
    return payload


def from_bytes(data: bytes, source: str = "the file") -> TrainResult:
    """Decode and validate checkpoint bytes (e.g. an upload)."""
    payload = _payload(data, source)
    try:
        spec = ModelSpec.from_json(_text(payload, "spec"))
        config = TrainConfig.from_dict(json.loads(_text(payload, "config")))
        history = History.from_dict(json.loads(_text(payload, "history")))
        run = json.loads(_text(payload, "run"))
        if not isinstance(run, dict):
            raise CheckpointError(N_("the run record is not a JSON object"))
    except CoreError as err:
        raise CheckpointError(N_("{source} has an invalid model or settings: {err}"), source=source, err=err) from None
    except RecursionError:  # json nested thousands deep: no checkpoint of this tool is
        raise CheckpointError(
            N_("{source} has a damaged field: its JSON is nested too deeply"), source=source
        ) from None
    except (ValueError, TypeError) as err:
        raise CheckpointError(N_("{source} has a damaged field: {err}"), source=source, err=err) from None
    params = _checked_params(payload.get("params"), spec, source)
    batch_stats = _checked_batch_stats(payload.get("batch_stats", {}), spec, source)
    opt_state = _checked_opt_state(payload.get("opt_state"), spec, config, params, source)
    dataset = payload.get("dataset")
    return TrainResult(
        spec=spec,
        config=config,
        dataset=dataset if isinstance(dataset, str) else "unknown",
        params=params,
        opt_state=opt_state,
        history=history,
        status=_status(run.get("status", Status.FINISHED), source),
        reason=str(run.get("reason", "")),
        compile_s=_float(run.get("compile_s")),
        train_s=_float(run.get("train_s")),
        samples_per_s=_float(run.get("samples_per_s")),
        extra=run.get("extra") if isinstance(run.get("extra"), dict) else {},
        batch_stats=batch_stats,
    )


def _status(value: object, source: str) -> Status:
    """A saved run's status; anything this tool does not write is refused."""
    try:
        return Status(value)
    except (ValueError, TypeError):
        raise CheckpointError(
            N_("{source} has an unknown run status {value!r}"), source=source, value=str(value)[:40]
        ) from None


def _text(payload: dict, key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str):
        raise CheckpointError(N_("the checkpoint field {key!r} is missing or not text"), key=key)
    return value


def _float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _shapes(tree: Any) -> dict[str, tuple[tuple[int, ...], str]]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {path_to_str(path): (tuple(np.shape(leaf)), str(np.asarray(leaf).dtype)) for path, leaf in leaves}


def _compare(found: Any, expected: Any, prefix: str, source: str) -> None:
    """CheckpointError naming the first path whose presence, shape or dtype differs."""
    have, want = _shapes(found), _shapes(expected)
    for path in sorted(set(have) | set(want)):
        name = f"{prefix}/{path}"
        if path not in have:
            raise CheckpointError(N_("{source} lacks {name}, which its model spec needs"), source=source, name=name)
        if path not in want:
            raise CheckpointError(
                N_("{source} has {name}, which its model spec does not have"), source=source, name=name
            )
        if have[path] != want[path]:
            raise CheckpointError(
                N_("{source}: {name} is {have_dtype}{have_shape}, but its model spec needs {want_dtype}{want_shape}"),
                source=source,
                name=name,
                have_dtype=have[path][1],
                have_shape=list(have[path][0]),
                want_dtype=want[path][1],
                want_shape=list(want[path][0]),
            )


def _expected(spec: ModelSpec, collection: str) -> Any:
    """Zeros shaped like one collection of the spec's ``model.init`` (``{}`` if it has none)."""
    model = models.build_model(spec)
    expected = jax.eval_shape(model.init, jax.random.key(0), models.example_batch(spec)).get(collection, {})
    return jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), expected)


def _checked_arrays(tree: Any, spec: ModelSpec, collection: str, what: str, source: str) -> Any:
    if any(not isinstance(leaf, np.ndarray) for leaf in jax.tree_util.tree_leaves(tree)):
        raise CheckpointError(N_("{source}: the {what} must all be arrays"), source=source, what=what)
    _compare(tree, _expected(spec, collection), collection, source)
    if not all(np.all(np.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)):
        raise CheckpointError(N_("{source}: some {what} are NaN or infinite"), source=source, what=what)
    return jax.tree_util.tree_map(jnp.asarray, tree)


def _checked_params(tree: Any, spec: ModelSpec, source: str) -> Any:
    if not isinstance(tree, dict) or not tree:
        raise CheckpointError(N_("{source} holds no parameters"), source=source)
    return _checked_arrays(tree, spec, "params", "parameters", source)


def _checked_batch_stats(tree: Any, spec: ModelSpec, source: str) -> Any:
    """A BatchNorm model's running averages; a checkpoint of a model without BatchNorm has none."""
    if not isinstance(tree, dict):
        raise CheckpointError(N_("{source}: batch_stats must be a mapping of arrays"), source=source)
    return _checked_arrays(tree, spec, "batch_stats", "batch statistics", source)


def _checked_opt_state(tree: Any, spec: ModelSpec, config: TrainConfig, params: Any, source: str) -> Any:
    if not tree:
        return None
    template = fresh_state(config, params)
    try:
        restored = serialization.from_state_dict(template, tree)
    except Exception as err:  # flax raises ValueError/KeyError/TypeError on a mismatched structure
        raise CheckpointError(
            N_("{source}: the optimizer state does not match {config_optimizer} ({err})"),
            source=source,
            config_optimizer=config.optimizer,
            err=err,
        ) from None
    _compare(
        serialization.to_state_dict(restored),
        serialization.to_state_dict(template),
        "opt_state",
        source,
    )
    return jax.tree_util.tree_map(jnp.asarray, restored)
