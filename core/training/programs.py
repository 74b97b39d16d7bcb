"""The compiled programs of training: a chunk of optimizer steps for a stack of models, and evaluation.

The stack has a leading *model* axis (N models of one shape, e.g. the seeds of a sweep
point; N = 1 for a run of the Train page). ``train_steps`` runs a dynamic number of steps
inside one ``lax.while_loop``, so the number of steps never changes the program; its
batches are gathered from the dataset on the device by an epoch plan drawn on the host
(``epoch_plan``), so every random choice (shuffles, shifts, the seed of input noise) is
fixed by (seed, epoch) and a stopped run can resume at any step. ``compile_once`` compiles
each program once per process (the persistent compilation cache keeps it across restarts).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding

from core import models
from core.spec import ModelSpec
from core.tasks import task_of
from core.training.config import SHIFT_PIXELS
from core.training.devices import ONE_DEVICE, Layout
from core.training.optimizer import update_transform
from core.training.overfitting import add_noise, l2_penalty

#: Upper bound on the steps of one compiled call (the buffer of per-step losses).
MAX_CHUNK_STEPS = 512


@flax.struct.dataclass
class ModelState:
    """What training changes: the parameters, the optimizer state and the running averages of the
    BatchNorm layers (``{}`` for a model without any: no leaves, so its programs are unchanged).
    Leading model axis in a stack."""

    params: Any
    opt_state: Any
    batch_stats: Any = flax.struct.field(default_factory=dict)

    @property
    def variables(self) -> dict:
        """The variables ``model.apply`` takes: ``{"params": ..., "batch_stats": ...}``."""
        return variables_of(self.params, self.batch_stats)


def variables_of(params: Any, batch_stats: Any) -> dict:
    """``{"params": params}``, with ``"batch_stats"`` when the model has BatchNorm layers."""
    return {"params": params, **({"batch_stats": batch_stats} if batch_stats else {})}


def dropout_key(seed: jax.Array, step: jax.Array) -> jax.Array:
    """The random key of a training step's dropout masks: the run's seed folded with the step number,
    so the same seed gives the same masks and a resumed run continues with the very next ones."""
    return jax.random.fold_in(jax.random.key(seed), step)


@dataclass(frozen=True)
class Program:
    """Static description of a compiled training program; equal programs share compiled code.

    Its spec carries seed 0: seeds only change starting values, not the program.
    """

    spec: ModelSpec
    optimizer: str
    loss: str  # reconstruction loss of an autoencoder ("mse" or "bce")
    augment: bool
    batch_size: int
    models: int = 1
    layout: Layout = ONE_DEVICE
    l2: bool = False  # add the L2 penalty (its factor is data: ``knobs[0]``)
    noise: bool = False  # add input noise (its standard deviation is data: ``knobs[1]``)


def plan_rows(noise: bool) -> int:
    """Rows of an epoch plan: order, two shifts, and with input noise one noise seed per position."""
    return 4 if noise else 3


def epoch_plan(seed: int, epoch: int, n: int, noise: bool = False) -> np.ndarray:
    """One epoch's plan, fixed by (seed, epoch): int32 (3, n). Row 0 is the order of the
    training images; rows 1 and 2 shift the image at each position down and right by up to
    ``SHIFT_PIXELS`` (used when augmenting); with ``noise`` a row 3 holds the seed of the input
    noise of the batch starting at each position (drawn last: rows 0-2 do not change). Drawn on
    the host in about a millisecond for 60,000 images, so the compiled step's only randomness
    (the input noise) comes from the plan and a resumed run continues exactly."""
    rng = np.random.default_rng((seed, epoch))
    plan = np.empty((plan_rows(noise), n), np.int32)
    plan[0] = rng.permutation(n)
    plan[1:3] = rng.integers(-SHIFT_PIXELS, SHIFT_PIXELS + 1, (2, n))
    if noise:
        plan[3] = rng.integers(0, 2**31 - 1, n)
    return plan


def to_float(images: jax.Array) -> jax.Array:
    return images.astype(jnp.float32) / 255.0


def shift_images(images: jax.Array, shifts: jax.Array, max_shift: int = SHIFT_PIXELS) -> jax.Array:
    """Shift each image (B, H, W, C) by ``shifts`` (2, B) whole pixels (down, right; each in
    [-max, max]), filling with 0. Built from static slices and selects (no gathers), so it
    costs a few elementwise passes over the batch."""
    _, height, width, _ = images.shape
    m = max_shift
    down, right = (shifts[k].astype(jnp.int32).reshape(-1, 1, 1, 1) for k in range(2))
    padded = jnp.pad(images, ((0, 0), (m, m), (0, 0), (0, 0)))
    images = sum(jnp.where(down == s, padded[:, m - s : m - s + height], 0) for s in range(-m, m + 1))
    padded = jnp.pad(images, ((0, 0), (0, 0), (m, m), (0, 0)))
    return sum(jnp.where(right == s, padded[:, :, m - s : m - s + width], 0) for s in range(-m, m + 1))


def optimizer_step(
    program: Program, images, labels, state: ModelState, plan, position, seed, step, knobs
) -> tuple[ModelState, Any]:
    """One optimizer step of one model on batch ``position`` of its epoch ``plan``: (state, loss).
    ``step`` counts the run's steps before this one; with ``seed`` it fixes the dropout masks.

    ``knobs`` is (L2 factor, noise standard deviation), read when the program has ``l2`` /
    ``noise``. The loss returned is the task's loss alone (without the L2 penalty), so train and
    test curves compare like with like."""
    batch = program.batch_size
    rows = jax.lax.dynamic_slice_in_dim(plan, position * batch, batch, axis=1)
    x, y = to_float(images[rows[0]]), labels[rows[0]]
    if program.layout.batch is not None:
        # Split the batch over the devices; XLA partitions the forward and backward passes
        # and all-reduces the gradients of the (replicated) parameters.
        x = jax.lax.with_sharding_constraint(x, program.layout.batch)
        y = jax.lax.with_sharding_constraint(y, program.layout.batch)
    if program.augment:
        x = shift_images(x, rows[1:3])
    if program.noise:
        x = add_noise(x, rows[3, 0], knobs[1])
    task, model = task_of(program.spec), models.build_model(program.spec)
    rngs = {"dropout": dropout_key(seed, step)} if program.spec.has_dropout else None

    def loss_of(params):
        loss, batch_stats = task.train_loss(model, variables_of(params, state.batch_stats), x, y, program.loss, rngs)
        return (loss + knobs[0] * l2_penalty(params) if program.l2 else loss), (loss, batch_stats)

    (_, (loss, batch_stats)), grads = jax.value_and_grad(loss_of, has_aux=True)(state.params)
    updates, opt_state = update_transform(program.optimizer).update(grads, state.opt_state, state.params)
    return ModelState(optax.apply_updates(state.params, updates), opt_state, batch_stats), loss


def train_steps(
    program: Program, masked: bool, states: ModelState, images, labels, plans, start, counts, limits, seeds, first,
    knobs,
):  # fmt: skip
    """Up to ``counts`` optimizer steps of every model of a stack, from batch ``start`` of ``plans``.

    ``seeds`` (models,) and ``first`` (the run's step at batch 0 of the plans) give each step its
    dropout key (``dropout_key``); a model without dropout ignores them.

    Model m follows its own epoch plan ``plans[m]`` and divergence limit ``limits[m]`` under
    one shared loop counter: a while loop whose condition differed per model would be
    vmapped into a select over every parameter at every step. Unmasked, every model takes
    ``counts[0]`` steps; ``masked`` lets model m stop after ``counts[m]`` (after a divergence,
    at the price of that select). The loop ends after the first step whose loss is not
    finite or over its model's limit. Returns the states, the losses (models,
    MAX_CHUNK_STEPS) and the number of loop iterations run. ``knobs`` (shared by the stack):
    see ``optimizer_step``.
    """

    def one_step(state, plan, seed, position):
        return optimizer_step(program, images, labels, state, plan, position, seed, first + position, knobs)

    if program.models == 1:  # plain matrix products: a batch axis of 1 makes XLA's CPU dots slower

        def every_model(states, plans, seeds, position):
            state = jax.tree_util.tree_map(lambda leaf: leaf[0], states)
            state, loss = one_step(state, plans[0], seeds[0], position)
            return jax.tree_util.tree_map(lambda leaf: leaf[None], state), loss[None]

    else:
        every_model = jax.vmap(one_step, in_axes=(0, 0, 0, None))

    def body(carry):
        i, states, losses, _ = carry
        new, loss = every_model(states, plans, seeds, start + i)
        live = i < counts
        if masked:
            new = jax.tree_util.tree_map(
                lambda n, o: jnp.where(live.reshape(live.shape + (1,) * (n.ndim - 1)), n, o), new, states
            )
        ok = (jnp.isfinite(loss) & (loss <= limits)) | ~live
        return i + 1, new, losses.at[:, i].set(loss), jnp.all(ok)

    def cond(carry):
        i, _, _, ok = carry
        return (i < (jnp.max(counts) if masked else counts[0])) & ok

    init = (jnp.int32(0), states, jnp.zeros((program.models, MAX_CHUNK_STEPS), jnp.float32), jnp.bool_(True))
    done, states, losses, _ = jax.lax.while_loop(cond, body, init)
    return states, losses, done


def evaluation_sums(spec: ModelSpec, loss: str, variables, images, labels, mask) -> dict[str, jax.Array]:
    """The task's sums (``Task.eval_sums``, evaluation mode: dropout off, BatchNorm's running averages)
    over a test set batched (batches, EVAL_BATCH, ...) with a mask."""
    task, model = task_of(spec), models.build_model(spec)

    def one(totals, batch):
        x, y, m = batch
        sums = task.eval_sums(model, variables, to_float(x), y, m, loss)
        return jax.tree_util.tree_map(jnp.add, totals, sums), None

    totals, _ = jax.lax.scan(one, task.zero_sums(spec), (images, labels, mask))
    return totals


_compile_lock = threading.Lock()
_compiled: dict[tuple, Any] = {}
_compile_locks: dict[tuple, threading.Lock] = {}
MAX_COMPILED = 64


def compile_once(name: str, fn: Callable, static: tuple, args: tuple, options: dict | None = None) -> tuple[Any, float]:
    """AOT-compile ``fn(*static, *args)`` for these argument shapes once per process: (executable, seconds).

    Different programs compile in parallel; a second caller of the same program waits for
    the first one's result instead of compiling it again. ``options`` are XLA compiler options.
    ``name`` identifies ``fn``: one name per function.
    """
    key = _program_key(name, static, args, options)
    with _compile_lock:
        key_lock = _compile_locks.setdefault(key, threading.Lock())
    with key_lock:
        if key in _compiled:
            return _compiled[key], 0.0
        start = time.perf_counter()
        executable = jax.jit(partial(fn, *static)).lower(*args).compile(compiler_options=options)
        with _compile_lock:
            _compiled[key] = executable
            if len(_compiled) > MAX_COMPILED:
                oldest = next(iter(_compiled))
                _compiled.pop(oldest)
                _compile_locks.pop(oldest, None)
        return executable, time.perf_counter() - start


def is_compiled(name: str, fn: Callable, static: tuple, args: tuple, options: dict | None = None) -> bool:
    """Whether ``compile_once(name, fn, static, args, options)`` would find its program compiled."""
    with _compile_lock:
        return _program_key(name, static, args, options) in _compiled


def compiled_programs(name: str) -> list[Any]:
    """The executables ``compile_once`` holds for ``name`` (to read their HLO in tests and benchmarks)."""
    with _compile_lock:
        return [executable for key, executable in _compiled.items() if key[0] == name]


def _program_key(name: str, static: tuple, args: tuple, options: dict | None) -> tuple:
    shapes = tuple(
        (tuple(leaf.shape), str(leaf.dtype), _placement(leaf)) for leaf in jax.tree_util.tree_leaves(args)
        if hasattr(leaf, "shape")
    )  # fmt: skip
    return (name, static, jax.tree_util.tree_structure(args), shapes, tuple(sorted((options or {}).items())))


def _placement(leaf: Any) -> str | None:
    """How an argument is split over devices (None on one device), part of a program's identity."""
    sharding = getattr(leaf, "sharding", None)
    return str(sharding.spec) if isinstance(sharding, NamedSharding) else None
