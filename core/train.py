"""Training engine: optax optimisers, a jitted multi-step update, streamed metrics, stop, evaluate.

Design (see DESIGN.md "Training in a dashboard"):
- The whole dataset lives on the device as uint8; each epoch's order (which images, in
  which batch, shifted by how many pixels when augmenting) is drawn on the host from
  ``(seed, epoch)`` and the compiled step gathers its batch from it, so runs are
  reproducible and a stopped run can resume at any step.
- ``train_steps`` runs a dynamic number of optimiser steps inside one compiled
  ``lax.while_loop``. The engine sizes each call to take ~0.2 s, so Python overhead is
  negligible, a stop request is honoured within a fraction of a second, and the number
  of steps never changes the compiled program (one compile per model and batch size).
- A non-finite loss ends the loop early; the engine replays that chunk up to the last
  finite step so the model keeps its last good parameters.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache, partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from core import models
from core.data import Dataset
from core.errors import ConfigError
from core.history import EpochMetrics, History
from core.spec import MAX_SEED, ModelSpec

OPTIMIZERS: dict[str, str] = {
    "adam": "Adam: adapts each weight's step size; the reliable default",
    "adamw": "Adam with weight decay: also pulls weights gently towards zero",
    "sgd": "Stochastic gradient descent with momentum: the classic",
}
RECONSTRUCTION_LOSSES: dict[str, str] = {
    "mse": "mean squared error per pixel",
    "bce": "binary cross-entropy per pixel (treats each pixel as ink / no ink)",
}
MAX_BATCH_SIZE = 8192
MAX_EPOCHS = 1000
MAX_LEARNING_RATE = 1e6
#: Upper bound on the steps of one compiled call (the buffer of per-step losses).
MAX_CHUNK_STEPS = 512
EVAL_BATCH = 1000
SHIFT_PIXELS = 1
#: A loss this many times the run's first loss counts as diverged, like a NaN.
DIVERGENCE_FACTOR = 1000.0


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one run, validated on construction."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    batch_size: int = 128
    epochs: int = 10
    seed: int = 0
    momentum: float = 0.9  # sgd only
    weight_decay: float = 1e-4  # adamw only
    reconstruction_loss: str = "mse"  # autoencoder only
    augment: bool = True  # shift each training image by up to SHIFT_PIXELS in x and y

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError("optimizer", f"unknown optimizer {self.optimizer!r}; choose {', '.join(OPTIMIZERS)}")
        lr = _number(self.learning_rate, "learning_rate", "learning rate")
        if not 0 < lr <= MAX_LEARNING_RATE:
            raise ConfigError(
                "learning_rate", f"learning rate must be above 0 and at most {MAX_LEARNING_RATE:g}, got {lr:g}"
            )
        object.__setattr__(self, "learning_rate", lr)
        for name, low, high, what in (
            ("batch_size", 1, MAX_BATCH_SIZE, "batch size"),
            ("epochs", 1, MAX_EPOCHS, "number of epochs"),
            ("seed", 0, MAX_SEED, "seed"),
        ):
            object.__setattr__(self, name, _whole(getattr(self, name), name, low, high, what))
        momentum = _number(self.momentum, "momentum", "momentum")
        if not 0 <= momentum < 1:
            raise ConfigError("momentum", f"momentum must be at least 0 and below 1, got {momentum:g}")
        decay = _number(self.weight_decay, "weight_decay", "weight decay")
        if not 0 <= decay <= 1:
            raise ConfigError("weight_decay", f"weight decay must be between 0 and 1, got {decay:g}")
        object.__setattr__(self, "momentum", momentum)
        object.__setattr__(self, "weight_decay", decay)
        if self.reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ConfigError(
                "reconstruction_loss",
                f"unknown loss {self.reconstruction_loss!r}; choose {', '.join(RECONSTRUCTION_LOSSES)}",
            )
        if not isinstance(self.augment, bool):
            raise ConfigError("augment", f"augment must be true or false, got {self.augment!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "seed": self.seed,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "reconstruction_loss": self.reconstruction_loss,
            "augment": self.augment,
        }

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        if not isinstance(data, dict):
            raise ConfigError("config", f"training settings must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(cls().to_dict()))
        if unknown:
            raise ConfigError(unknown[0], "unknown training setting")
        return cls(**data)


def _number(value: Any, name: str, what: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(name, f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(name, f"{what} must be a finite number, got {value!r}")
    return number


def _whole(value: Any, name: str, low: int, high: int, what: str) -> int:
    number = _number(value, name, what)
    if number != int(number):
        raise ConfigError(name, f"{what} must be a whole number, got {value!r}")
    if not low <= number <= high:
        raise ConfigError(name, f"{what} must be between {low:,} and {high:,}, got {int(number):,}")
    return int(number)


def loss_label(spec: ModelSpec, config: TrainConfig) -> str:
    """The loss in words, for axis titles: "cross-entropy" or "mean squared error per pixel"."""
    if spec.kind == "mlp":
        return "cross-entropy"
    return RECONSTRUCTION_LOSSES[config.reconstruction_loss]


# ----- optimiser and loss -----------------------------------------------------------------


@cache
def make_optimizer(name: str) -> optax.GradientTransformation:
    """The optax optimiser ``name``, one shared object per name.

    Its hyperparameters are injected (``optax.inject_hyperparams``): they live in the
    optimiser state, so a new learning rate changes data, not the compiled program.
    ``init_state`` writes a config's values into that state.
    """
    factory = {"adam": optax.adam, "adamw": optax.adamw, "sgd": optax.sgd}[name]
    defaults = _hyperparameters(TrainConfig(optimizer=name))
    return optax.inject_hyperparams(factory)(**defaults)


def _hyperparameters(config: TrainConfig) -> dict[str, float]:
    if config.optimizer == "sgd":
        return {"learning_rate": config.learning_rate, "momentum": config.momentum}
    if config.optimizer == "adamw":
        return {"learning_rate": config.learning_rate, "weight_decay": config.weight_decay}
    return {"learning_rate": config.learning_rate}


def to_float(images: jax.Array) -> jax.Array:
    return images.astype(jnp.float32) / 255.0


def shift_images(images: jax.Array, shifts: jax.Array, max_shift: int = SHIFT_PIXELS) -> jax.Array:
    """Shift each image (B, H, W, C) by ``shifts`` (2, B) whole pixels (down, right; each in
    [-max, max]), filling with 0. Built from static slices and selects (no gathers, no random
    numbers in the compiled step), so it costs a few elementwise passes over the batch."""
    _, height, width, _ = images.shape
    m = max_shift
    down, right = (shifts[k].astype(jnp.int32).reshape(-1, 1, 1, 1) for k in range(2))
    padded = jnp.pad(images, ((0, 0), (m, m), (0, 0), (0, 0)))
    images = sum(jnp.where(down == s, padded[:, m - s : m - s + height], 0) for s in range(-m, m + 1))
    padded = jnp.pad(images, ((0, 0), (0, 0), (m, m), (0, 0)))
    return sum(jnp.where(right == s, padded[:, :, m - s : m - s + width], 0) for s in range(-m, m + 1))


def batch_loss(spec: ModelSpec, loss_kind: str, params: Any, images: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean loss of a float batch: cross-entropy for the MLP, per-pixel MSE/BCE for the autoencoder."""
    model = models.build_model(spec)
    if spec.kind == "mlp":
        logits = model.apply({"params": params}, images)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    flat = images.reshape(images.shape[0], -1)
    logits = model.apply({"params": params}, images, method=lambda m, x: m.decode_logits(m.encode(x)))
    if loss_kind == "bce":
        return optax.sigmoid_binary_cross_entropy(logits, flat).mean()
    return jnp.mean((jax.nn.sigmoid(logits) - flat) ** 2)


# ----- compiled programs -----------------------------------------------------------------


TrainState = train_state.TrainState


@dataclass(frozen=True)
class Program:
    """Static description of a compiled training program; equal programs share compiled code.

    Its spec carries seed 0: the seed only changes starting values, not the program.
    """

    spec: ModelSpec
    optimizer: str
    loss_kind: str
    augment: bool
    batch_size: int
    devices: int = 1  # local devices sharing each batch (data parallel); 1 = a single device


# ----- data parallel over local devices ---------------------------------------------------


def data_parallel_devices(batch_size: int) -> int:
    """How many local devices share each batch: all of them when there are several and the
    batch splits evenly between them, else 1 (one device does everything)."""
    count = jax.local_device_count()
    return count if count > 1 and batch_size % count == 0 else 1


@cache
def _mesh(devices: int) -> Mesh:
    return Mesh(np.array(jax.local_devices()[:devices]), ("data",))


def replicated(devices: int) -> NamedSharding:
    """Every device holds the whole array (parameters, optimiser state, the dataset)."""
    return NamedSharding(_mesh(devices), PartitionSpec())


def split_batch(devices: int) -> NamedSharding:
    """Each device holds 1/devices of the batch (its first axis)."""
    return NamedSharding(_mesh(devices), PartitionSpec("data"))


def optimizer_step(program: Program, tx, images, labels, state, order, position):
    """One optimiser step on batch ``position`` of the epoch ``order`` (see ``epoch_order``):
    returns (state, loss).

    The single definition of a training step, used by ``train_steps`` here and, vmapped over
    several seeds, by ``core.sweep``.
    """
    batch = program.batch_size
    rows = jax.lax.dynamic_slice_in_dim(order, position * batch, batch, axis=1)
    x, y = to_float(images[rows[0]]), labels[rows[0]]
    if program.devices > 1:
        # Split the batch over the devices; XLA partitions the forward and backward passes
        # and all-reduces the gradients of the (replicated) parameters.
        x = jax.lax.with_sharding_constraint(x, split_batch(program.devices))
        y = jax.lax.with_sharding_constraint(y, split_batch(program.devices))
    if program.augment:
        x = shift_images(x, rows[1:])
    loss, grads = jax.value_and_grad(partial(batch_loss, program.spec, program.loss_kind))(state.params, x, y)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state), loss


def train_steps(program: Program, tx, state, images, labels, order, start, count, limit):
    """Run ``count`` optimiser steps (at most MAX_CHUNK_STEPS) over batches ``start..`` of ``order``.

    Returns the new state, a buffer of per-step losses and the number of steps whose loss
    was computed; stops early after the first loss that is not finite or exceeds ``limit``.
    """

    def body(carry):
        i, state, losses, _ = carry
        state, loss = optimizer_step(program, tx, images, labels, state, order, start + i)
        return i + 1, state, losses.at[i].set(loss), jnp.isfinite(loss) & (loss <= limit)

    def cond(carry):
        i, _, _, ok = carry
        return (i < count) & ok

    init = (jnp.int32(0), state, jnp.zeros(MAX_CHUNK_STEPS, jnp.float32), jnp.bool_(True))
    done, state, losses, _ = jax.lax.while_loop(cond, body, init)
    return state, losses, done


def evaluation_sums(spec: ModelSpec, loss_kind: str, params, images, labels, mask):
    """Sums over the test set, batched (B, EVAL_BATCH, ...) with a padding mask:
    (loss, correct predictions or squared error, confusion matrix)."""
    model = models.build_model(spec)

    def one(carry, xs):
        x, y, m = xs
        x = to_float(x)
        if spec.kind == "mlp":
            logits = model.apply({"params": params}, x)
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, y)
            pred = jnp.argmax(logits, axis=-1)
            confusion = jnp.zeros((10, 10), jnp.int32).at[y, pred].add(m.astype(jnp.int32))
            sums = (jnp.sum(loss * m), jnp.sum((pred == y) * m), confusion)
        else:
            flat = x.reshape(x.shape[0], -1)
            logits = model.apply({"params": params}, x, method=lambda mod, v: mod.decode_logits(mod.encode(v)))
            if loss_kind == "bce":
                per_image = optax.sigmoid_binary_cross_entropy(logits, flat).mean(axis=1)
            else:
                per_image = jnp.mean((jax.nn.sigmoid(logits) - flat) ** 2, axis=1)
            mse = jnp.mean((jax.nn.sigmoid(logits) - flat) ** 2, axis=1)
            sums = (jnp.sum(per_image * m), jnp.sum(mse * m), jnp.zeros((10, 10), jnp.int32))
        return jax.tree_util.tree_map(jnp.add, carry, sums), None

    zero = (jnp.float32(0), jnp.float32(0), jnp.zeros((10, 10), jnp.int32))
    totals, _ = jax.lax.scan(one, zero, (images, labels, mask))
    return totals


_compile_lock = threading.Lock()
_compiled: dict[tuple, Any] = {}
_compile_locks: dict[tuple, threading.Lock] = {}


def compile_once(name: str, fn: Callable, static: tuple, args: tuple) -> tuple[Any, float]:
    """AOT-compile ``fn`` for these argument shapes once per process; returns (executable, seconds).

    Different programs compile in parallel; a second caller of the same program waits for
    the first one's result instead of compiling it again.
    """
    shapes = tuple(
        (tuple(leaf.shape), str(leaf.dtype)) for leaf in jax.tree_util.tree_leaves(args) if hasattr(leaf, "shape")
    )
    key = (name, static, jax.tree_util.tree_structure(args), shapes)
    with _compile_lock:
        key_lock = _compile_locks.setdefault(key, threading.Lock())
    with key_lock:
        if key in _compiled:
            return _compiled[key], 0.0
        start = time.perf_counter()
        executable = jax.jit(partial(fn, *static)).lower(*args).compile()
        with _compile_lock:
            _compiled[key] = executable
            if len(_compiled) > 64:
                oldest = next(iter(_compiled))
                _compiled.pop(oldest)
                _compile_locks.pop(oldest, None)
        return executable, time.perf_counter() - start


# ----- data on the device -----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DeviceData:
    """A dataset's arrays on the device: training images/labels and the padded test set."""

    train_images: jax.Array
    train_labels: jax.Array
    test_images: jax.Array  # (batches, EVAL_BATCH, 28, 28, 1)
    test_labels: jax.Array
    test_mask: jax.Array
    num_test: int


def batched_for_eval(images: np.ndarray, labels: np.ndarray, batch: int = EVAL_BATCH):
    """Pad to a multiple of ``batch`` and reshape to (batches, batch, ...), with a 0/1 mask."""
    n = len(labels)
    batch = max(1, min(batch, n))
    padded = math.ceil(n / batch) * batch
    pad = padded - n
    images = np.concatenate([images, np.zeros((pad, *images.shape[1:]), images.dtype)])
    labels = np.concatenate([labels, np.zeros(pad, labels.dtype)])
    mask = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])
    return (
        images.reshape(-1, batch, *images.shape[1:]),
        labels.reshape(-1, batch),
        mask.reshape(-1, batch),
    )


@lru_cache(maxsize=4)
def device_data(dataset: Dataset, devices: int = 1) -> DeviceData:
    """Put a dataset on the device(s) once (cached per dataset object): on every device when
    training data parallel, so each can gather its part of any batch locally."""
    test_images, test_labels, mask = batched_for_eval(dataset.test_images, dataset.test_labels)
    where = replicated(devices) if devices > 1 else None
    return DeviceData(
        jax.device_put(dataset.train_images, where),
        jax.device_put(dataset.train_labels, where),
        jax.device_put(test_images, where),
        jax.device_put(test_labels, where),
        jax.device_put(mask, where),
        dataset.num_test,
    )


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """One epoch's plan, fixed by (seed, epoch): int32 (3, n). Row 0 is the order of the
    training images; rows 1 and 2 shift the image at each position down and right by up to
    ``SHIFT_PIXELS`` (used when augmenting). Drawn on the host in about a millisecond for
    60,000 images, so the compiled step holds no random number generator (threefry alone
    added a third of a second to every compile) and a resumed run continues exactly."""
    rng = np.random.default_rng((seed, epoch))
    order = np.empty((3, n), np.int32)
    order[0] = rng.permutation(n)
    order[1:] = rng.integers(-SHIFT_PIXELS, SHIFT_PIXELS + 1, (2, n))
    return order


# ----- the engine -------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """What the engine reports after each chunk of steps (a few times per second)."""

    phase: str  # "compiling", "training", "evaluating", "done"
    step: int
    total_steps: int
    epoch: float  # fractional epochs done
    epochs: int
    new_losses: tuple[float, ...]  # losses of the steps since the last report
    samples_per_s: float
    elapsed_s: float  # training time, compile and evaluation excluded
    eta_s: float | None
    compile_s: float
    epoch_metrics: EpochMetrics | None = None


@dataclass
class TrainResult:
    """A run's outcome: everything needed to keep using, saving or resuming the model."""

    spec: ModelSpec
    config: TrainConfig
    dataset: str
    params: Any
    opt_state: Any
    history: History
    status: str  # "finished", "stopped", "diverged"
    reason: str = ""
    compile_s: float = 0.0
    train_s: float = 0.0
    samples_per_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.history.steps

    @property
    def final_metrics(self) -> EpochMetrics | None:
        return self.history.epochs[-1] if self.history.epochs else None


def steps_per_epoch(config: TrainConfig, num_train: int) -> int:
    """Full batches per epoch (the last partial batch is dropped: every step sees ``batch_size`` images)."""
    if config.batch_size > num_train:
        raise ConfigError(
            "batch_size",
            f"batch size {config.batch_size:,} is larger than the {num_train:,} training images; "
            f"use at most {num_train:,}",
        )
    return num_train // config.batch_size


def init_state(spec: ModelSpec, config: TrainConfig, params: Any = None) -> TrainState:
    """A fresh TrainState: ``models.init_params(spec)`` (or given params) and a fresh optimiser state."""
    if params is None:
        params = models.init_params(spec)
    params = jax.tree_util.tree_map(jnp.asarray, params)
    tx = make_optimizer(config.optimizer)
    state = TrainState(
        step=jnp.zeros((), jnp.int32), apply_fn=None, params=params, tx=tx,
        opt_state=fresh_opt_state(config.optimizer, params),
    )  # fmt: skip
    return set_hyperparameters(state, config)


def fresh_opt_state(optimizer: str, params: Any) -> Any:
    """``tx.init(params)`` without a compile per parameter shape.

    For adam, adamw and sgd every array of a fresh state is zeros (moments, momentum, step
    counts); only the injected hyperparameters (b1, b2, eps, ...) carry values, and those do
    not depend on the parameters: take them from the state of one scalar. A test checks
    this equals ``tx.init(params)`` for every optimizer.
    """
    tx = make_optimizer(optimizer)
    shapes = jax.eval_shape(tx.init, params)
    zeros = jax.tree_util.tree_map(lambda s: jnp.asarray(np.zeros(s.shape, s.dtype)), shapes)
    return zeros._replace(hyperparams=_initial_hyperparams(optimizer))


@cache
def _initial_hyperparams(optimizer: str) -> dict:
    # concrete values even when first asked for while tracing (they are cached)
    with jax.ensure_compile_time_eval():
        return dict(make_optimizer(optimizer).init({"w": jnp.zeros(())}).hyperparams)


def _submit_compiles(pool, program: Program, tx, config: TrainConfig, data: DeviceData, shapes, order):
    """Start compiling the training step and the evaluation (the same cache keys for ``train`` and ``warm_up``)."""
    step_args = (shapes, data.train_images, data.train_labels, order, jnp.int32(0), jnp.int32(1), jnp.float32(np.inf))
    eval_args = (shapes.params, data.test_images, data.test_labels, data.test_mask)
    step_job = pool.submit(compile_once, "train", train_steps, (program, tx), step_args)
    eval_job = pool.submit(compile_once, "eval", evaluation_sums, (program.spec, config.reconstruction_loss), eval_args)
    return step_job, eval_job


def warm_up(spec: ModelSpec, config: TrainConfig, dataset: Dataset) -> float:
    """Compile what ``train(spec, config, dataset)`` will need, without training; returns seconds.

    The dashboard does this for its default models when it starts, so a first Start is
    already warm; the programs also land in the persistent compilation cache.
    """
    tic = time.perf_counter()
    devices = data_parallel_devices(config.batch_size)
    program = Program(
        spec.replace(seed=0), config.optimizer, config.reconstruction_loss, config.augment, config.batch_size, devices
    )
    where = replicated(devices) if devices > 1 else None
    data = device_data(dataset, devices)
    order = jax.ShapeDtypeStruct((3, dataset.num_train), jnp.int32, sharding=where)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="warm-up") as pool:
        jobs = _submit_compiles(pool, program, make_optimizer(config.optimizer), config, data,
                                _state_shapes(spec, config, None, where), order)  # fmt: skip
        models.compiled_init(program.spec)  # flax's model.init for this shape: every seed shares it
        for job in jobs:
            job.result()
    return time.perf_counter() - tic


def _state_shapes(spec: ModelSpec, config: TrainConfig, state: TrainState | None, where) -> TrainState:
    """Shapes, dtypes (and placement) of the training state, from the spec when there is no state yet."""
    if state is None:
        model = models.build_model(spec)
        params = jax.eval_shape(model.init, jax.random.key(0), models.example_batch(spec))["params"]
        state = jax.eval_shape(partial(init_state, spec, config), params)
    return jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=where, weak_type=getattr(x, "weak_type", False)),
        state,
    )


def set_hyperparameters(state: TrainState, config: TrainConfig) -> TrainState:
    """Put the config's learning rate etc. into a (possibly resumed) optimiser state."""
    hyper = dict(state.opt_state.hyperparams)
    for name, value in _hyperparameters(config).items():
        hyper[name] = jnp.asarray(value, dtype=jnp.asarray(hyper[name]).dtype)
    return state.replace(opt_state=state.opt_state._replace(hyperparams=hyper))


def train(
    spec: ModelSpec,
    config: TrainConfig,
    dataset: Dataset,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    resume: TrainResult | None = None,
    chunk_seconds: float = 0.2,
) -> TrainResult:
    """Train ``spec`` on ``dataset`` for ``config.epochs`` epochs (in total, counting a resumed run).

    ``on_progress`` is called from this thread after every chunk of steps; setting ``stop``
    ends the run after the current chunk (a fraction of a second), keeping the parameters
    and history so far. ``resume`` continues a previous result of the same spec and batch
    size exactly where it stopped: same shuffles and augmentations as an uninterrupted run.
    """
    stop = stop or threading.Event()
    per_epoch = steps_per_epoch(config, dataset.num_train)
    total_steps = per_epoch * config.epochs
    devices = data_parallel_devices(config.batch_size)
    program = Program(
        spec.replace(seed=0), config.optimizer, config.reconstruction_loss, config.augment, config.batch_size, devices
    )
    tx = make_optimizer(config.optimizer)
    if resume is not None:
        _check_resumable(resume, spec, config)
        state = TrainState(
            step=jnp.int32(resume.steps), apply_fn=None, params=resume.params, tx=tx, opt_state=resume.opt_state
        )
        state = set_hyperparameters(state, config)
        history = resume.history.copy()
        elapsed = resume.train_s
    else:
        state = None  # computed below, while the training step compiles
        history = History()
        elapsed = 0.0
    data = device_data(dataset, devices)
    where = replicated(devices) if devices > 1 else None

    def plan(epoch: int) -> jax.Array:
        return jax.device_put(epoch_order(config.seed, epoch, dataset.num_train), where)

    def report(phase: str, new_losses=(), metrics: EpochMetrics | None = None, eta: float | None = None) -> None:
        if on_progress is not None:
            done = history.steps
            on_progress(
                Progress(
                    phase=phase,
                    step=done,
                    total_steps=total_steps,
                    epoch=done / per_epoch,
                    epochs=config.epochs,
                    new_losses=tuple(new_losses),
                    samples_per_s=(done - start_steps) * config.batch_size / max(elapsed - start_elapsed, 1e-9),
                    elapsed_s=elapsed,
                    eta_s=eta,
                    compile_s=compile_s,
                    epoch_metrics=metrics,
                )
            )

    start_steps, start_elapsed, compile_s = history.steps, elapsed, 0.0
    report("compiling")
    order = plan(0)
    # Compile from the shapes of the state while its starting values are computed: the two
    # compiles and the initialisation run at once (XLA works outside the GIL).
    shapes = _state_shapes(spec, config, state, where)
    tic = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="compile") as pool:
        step_job, eval_job = _submit_compiles(pool, program, tx, config, data, shapes, order)
        if state is None:
            state = init_state(spec, config)
        if where is not None:
            state = jax.device_put(state, where)
        (step_fn, step_s), (eval_fn, eval_s) = step_job.result(), eval_job.result()
    compile_s = time.perf_counter() - tic if step_s or eval_s else 0.0

    status, reason = "finished", ""
    seconds_per_step: float | None = None
    eval_seconds = 0.0
    while history.steps < total_steps and not stop.is_set():
        epoch, offset = divmod(history.steps, per_epoch)
        order = plan(epoch)
        while offset < per_epoch and not stop.is_set():
            count = chunk_steps(seconds_per_step, per_epoch - offset, chunk_seconds)
            limit = loss_limit(history)
            tic = time.perf_counter()
            new_state, losses, done = step_fn(
                state, data.train_images, data.train_labels, order, jnp.int32(offset), jnp.int32(count),
                jnp.float32(limit),
            )  # fmt: skip
            losses = np.asarray(losses)[: int(done)]
            toc = time.perf_counter() - tic
            elapsed += toc
            bad, first_loss = first_bad_step(history, losses)
            if bad is not None:
                # Replay the chunk up to the step before the bad one: those parameters gave a sane loss.
                bad_step = history.steps + bad + 1
                keep = max(bad - 1, 0)
                if keep:
                    state, _, _ = step_fn(
                        state, data.train_images, data.train_labels, order, jnp.int32(offset), jnp.int32(keep),
                        jnp.float32(limit),
                    )  # fmt: skip
                history.step_losses.extend(float(x) for x in losses[:keep])
                status = "diverged"
                reason = divergence_reason(losses[bad], first_loss, bad_step, history, config)
                report("training", losses[:keep])
                break
            state = new_state
            history.step_losses.extend(float(x) for x in losses)
            offset += int(done)
            step_time = toc / max(int(done), 1)
            seconds_per_step = smoothed_step_time(seconds_per_step, step_time)
            remaining_epochs = config.epochs - epoch - (offset == per_epoch)
            eta = (total_steps - history.steps) * seconds_per_step + remaining_epochs * eval_seconds
            report("training", losses, eta=eta)
        if status == "diverged":
            break
        if offset == per_epoch:
            tic = time.perf_counter()
            report("evaluating")
            metrics = epoch_metrics(eval_fn, state.params, data, spec, history, per_epoch, elapsed)
            eval_seconds = time.perf_counter() - tic
            history.epochs.append(metrics)
            remaining = (total_steps - history.steps) * (seconds_per_step or 0) + (
                config.epochs - metrics.epoch
            ) * eval_seconds
            report("training", metrics=metrics, eta=remaining)
    if stop.is_set() and status == "finished" and history.steps < total_steps:
        status = "stopped"
        reason = f"stopped by request after {history.steps:,} of {total_steps:,} steps"
    trained = history.steps - start_steps
    result = TrainResult(
        spec=spec,
        config=config,
        dataset=dataset.name,
        params=state.params,
        opt_state=state.opt_state,
        history=history,
        status=status,
        reason=reason,
        compile_s=compile_s,
        train_s=elapsed,
        samples_per_s=trained * config.batch_size / max(elapsed - start_elapsed, 1e-9),
        extra={"devices": devices, "platform": jax.devices()[0].platform},
    )
    report("done", eta=0.0)
    return result


def chunk_steps(seconds_per_step: float | None, steps_left: int, chunk_seconds: float) -> int:
    """How many steps the next compiled call runs: 2 to measure first, then about ``chunk_seconds``
    worth (at least 1, at most MAX_CHUNK_STEPS and what is left of the epoch)."""
    if seconds_per_step is None:
        return min(2, steps_left)
    return int(min(MAX_CHUNK_STEPS, steps_left, max(1, chunk_seconds / seconds_per_step)))


def smoothed_step_time(previous: float | None, step_time: float) -> float:
    """The running estimate of seconds per step (the first chunk includes one-off dispatch costs:
    later chunks count more)."""
    return step_time if previous is None else 0.7 * previous + 0.3 * step_time


def loss_limit(history: History) -> float:
    """A loss above this ends the compiled loop early: DIVERGENCE_FACTOR times the first loss."""
    return DIVERGENCE_FACTOR * history.step_losses[0] if history.steps else np.inf


def first_bad_step(history: History, losses: np.ndarray) -> tuple[int | None, float]:
    """(index in ``losses`` of the first loss that is not finite or over DIVERGENCE_FACTOR times the
    run's first loss, or None; that first loss), for the new ``losses`` of a run with ``history``."""
    first_loss = history.step_losses[0] if history.steps else (losses[0] if losses.size else np.inf)
    bad_mask = ~np.isfinite(losses) | (losses > np.float32(DIVERGENCE_FACTOR * first_loss))
    return (int(np.argmax(bad_mask)) if bad_mask.any() else None), first_loss


def divergence_reason(loss: float, first_loss: float, step: int, history: History, config: TrainConfig) -> str:
    if np.isfinite(loss):
        what = f"exploded to {loss:.3g} (over {DIVERGENCE_FACTOR:,.0f} times its first value, {first_loss:.3g})"
    else:
        what = "became NaN (not a number)" if np.isnan(loss) else "became infinite"
    kept = f"after step {history.steps:,}" if history.steps else "before training (its initial values)"
    return (
        f"the loss {what} at step {step:,}: the learning rate ({config.learning_rate:g}) is probably too high "
        f"for {config.optimizer}. Training stopped; the model keeps its last good parameters, {kept}."
    )


def epoch_metrics(eval_fn, params, data: DeviceData, spec: ModelSpec, history: History, per_epoch: int,
                   elapsed: float) -> EpochMetrics:  # fmt: skip
    loss_sum, second, _ = eval_fn(params, data.test_images, data.test_labels, data.test_mask)
    epoch = history.steps // per_epoch
    epoch_losses = history.step_losses[(epoch - 1) * per_epoch : epoch * per_epoch]
    return EpochMetrics(
        epoch=epoch,
        step=history.steps,
        train_loss=float(np.mean(epoch_losses)),
        test_loss=float(loss_sum) / data.num_test,
        test_accuracy=float(second) / data.num_test if spec.kind == "mlp" else None,
        elapsed_s=elapsed,
    )


def _check_resumable(previous: TrainResult, spec: ModelSpec, config: TrainConfig) -> None:
    if previous.spec != spec:
        raise ConfigError("resume", "a run can only be resumed with the same model")
    if previous.config.batch_size != config.batch_size or previous.config.optimizer != config.optimizer:
        raise ConfigError("resume", "resume with the same optimizer and batch size as the original run")
    if previous.opt_state is None:
        raise ConfigError("resume", "this run has no optimizer state saved, so it cannot be resumed")


def with_epochs(config: TrainConfig, epochs: int) -> TrainConfig:
    return replace(config, epochs=epochs)
