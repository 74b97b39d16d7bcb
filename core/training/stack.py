"""One stack's compiled programs and the data they read: ``plan_stack`` checks that N models can
train together and describes their programs, ``Stack`` runs them (a chunk of steps, an
evaluation), ``state_shapes`` gives their states' shapes without computing a value, and
``warm_up`` compiles them ahead of a run. ``core.training.engine`` drives a stack through a run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from core import models
from core.data import Dataset
from core.errors import ConfigError
from core.i18n import N_
from core.spec import ModelSpec
from core.training.config import TrainConfig
from core.training.devices import DeviceData, Layout, device_data
from core.training.optimizer import fresh_state, hyperparameters, with_hyperparameters
from core.training.overfitting import TrainEvalData, subset_size, train_eval_data
from core.training.programs import (
    ModelState,
    Program,
    compile_once,
    evaluation_sums,
    is_compiled,
    plan_rows,
    train_steps,
)
from core.training.results import TrainResult

Member = tuple[ModelSpec, TrainConfig]  # one model of a stack: its spec (init seed) and config (data seed)


def steps_per_epoch(config: TrainConfig, num_train: int) -> int:
    """Full batches per epoch over the images ``config.train_fraction`` keeps of ``num_train`` (the
    last partial batch is dropped: every step sees ``batch_size`` images)."""
    used = subset_size(num_train, config.train_fraction)
    if config.batch_size > used:
        part = "" if used == num_train else f" ({config.train_fraction:.0%} of {num_train:,})"
        raise ConfigError(
            "batch_size",
            N_(
                "batch size {config_batch_size:,} is larger than the {used:,} training "
                "images{part}; use at most {used:,}"
            ),
            config_batch_size=config.batch_size,
            used=used,
            part=part,
        )
    return used // config.batch_size


#: A batch size chosen for a small dataset leaves at least this many steps in an epoch.
SMALL_DATA_STEPS = 4


def batch_size_for(batch_size: int, images: int) -> int:
    """``batch_size``, or, when ``images`` training images do not fill one batch, the largest power of two
    that leaves at least SMALL_DATA_STEPS steps per epoch (16 for 72 images, 1 for 3)."""
    if batch_size <= images:
        return batch_size
    return 1 << (max(1, images // SMALL_DATA_STEPS).bit_length() - 1)


def fit_batch_size(config: TrainConfig, num_train: int, fractions: Sequence[float] = ()) -> tuple[TrainConfig, str]:
    """``config`` with a batch size its data can fill (also at each of ``fractions``, a sweep's training
    fractions), and a sentence saying so when it was made smaller ("" when it fits)."""
    used = min(subset_size(num_train, f) for f in (config.train_fraction, *fractions))
    size = batch_size_for(config.batch_size, used)
    if size == config.batch_size:
        return config, ""
    note = (
        f"Batch size {size:,} instead of {config.batch_size:,}: there are only {used:,} training images, "
        f"fewer than one batch, so each step shows the model {size:,} of them."
    )
    return replace(config, batch_size=size), note


def take(tree: Any, m: int) -> Any:
    """Model ``m`` of a stacked pytree."""
    return jax.tree_util.tree_map(lambda leaf: leaf[m], tree)


def stack(trees: Sequence[Any]) -> Any:
    """Pytrees of one structure stacked along a new leading model axis (on the host: no compile per shape)."""
    return jax.tree_util.tree_map(lambda *leaves: np.stack([np.asarray(leaf) for leaf in leaves]), *trees)


def fresh_model_state(spec: ModelSpec, config: TrainConfig) -> ModelState:
    """Where training starts: flax's ``model.init`` parameters and batch_stats, and a fresh optimizer state."""
    variables = models.init_variables(spec)
    params = variables["params"]
    return ModelState(params, fresh_state(config, params), variables.get("batch_stats", {}))


def resumed_state(result: TrainResult, config: TrainConfig) -> ModelState:
    """A result's parameters and optimizer state, with ``config``'s hyperparameters written in."""
    return ModelState(
        result.params, with_hyperparameters(result.opt_state, hyperparameters(config)), result.batch_stats
    )


def stack_evaluation_sums(spec: ModelSpec, loss: str, models_: int, variables, images, labels, mask):
    """``programs.evaluation_sums`` of every model of a stack: {name: array with a leading model axis}."""
    evaluate = partial(evaluation_sums, spec, loss)
    if models_ == 1:
        return jax.tree_util.tree_map(lambda x: x[None], evaluate(take(variables, 0), images, labels, mask))
    return jax.vmap(evaluate, in_axes=(0, None, None, None))(variables, images, labels, mask)


def evaluation_program(spec: ModelSpec, loss: str, models_: int) -> tuple:
    """The static part of a stack's evaluation: shared by every config that trains this shape."""
    return (spec.replace(seed=0), loss, models_)


@dataclass
class Stack:
    """The compiled programs of one stack and the data they read: ``steps`` and ``evaluate``."""

    program: Program
    data: DeviceData
    seeds: tuple[int, ...] = ()  # each model's training seed (its dropout keys)
    config: TrainConfig | None = None  # the stack's settings (L2 and noise are data of the step)
    train_eval: TrainEvalData | None = None  # the train curve's images
    compile_s: float = 0.0

    def __post_init__(self) -> None:
        config = self.config or TrainConfig()
        self.knobs = jnp.asarray([config.l2, config.noise], jnp.float32)

    def steps(self, masked: bool, states: ModelState, plans, start: int, counts, limits, first: int = 0):
        """``programs.train_steps`` for this stack (each variant compiled once per process); ``first`` is
        the run's step at batch 0 of ``plans``."""
        seeds = np.zeros(self.program.models, np.int32) if not self.seeds else np.asarray(self.seeds, np.int32)
        args = (states, self.data.train_images, self.data.train_labels, plans, jnp.int32(start),
                jnp.asarray(counts, jnp.int32), jnp.asarray(limits, jnp.float32),
                jax.device_put(seeds, self.program.layout.per_model), jnp.int32(first), self.knobs)  # fmt: skip
        return self._compiled("train", train_steps, (self.program, masked), args)(*args)

    def evaluate(self, variables, on_train: bool = False) -> dict[str, np.ndarray]:
        """The task's evaluation sums of every model (``ModelState.variables`` of a stack) on the test
        set (or, ``on_train``, on the train curve's training images): {name: array with a leading
        model axis}."""
        args = self._eval_args(variables, on_train)
        static = evaluation_program(self.program.spec, self.program.loss, self.program.models)
        sums = self._compiled("eval", stack_evaluation_sums, static, args)(*args)
        return {name: np.asarray(value) for name, value in sums.items()}

    def _eval_args(self, variables, on_train: bool) -> tuple:
        if on_train:
            return (variables, self.train_eval.images, self.train_eval.labels, self.train_eval.mask)
        return (variables, self.data.test_images, self.data.test_labels, self.data.test_mask)

    def _compiled(self, name: str, fn: Callable, static: tuple, args: tuple):
        executable, seconds = compile_once(name, fn, static, args)
        self.compile_s += seconds
        return executable

    def compile(self, states: Any, pool: ThreadPoolExecutor) -> list:
        """Start compiling the unmasked step and the evaluations (test, train curve) from the shapes of
        ``states``; the two evaluations are one program when the test set is one batch."""
        return [pool.submit(compile_once, *program) for program in self._programs(states)]

    def is_compiled(self, states: Any) -> bool:
        """Whether this process has already compiled the stack's step and evaluation."""
        return all(is_compiled(*program) for program in self._programs(states))

    def _programs(self, states: Any) -> tuple[tuple, tuple, tuple]:
        d, n, p = self.data, self.program.models, self.program
        plans = jax.ShapeDtypeStruct((n, plan_rows(p.noise), d.train_labels.shape[0]), jnp.int32,
                                     sharding=p.layout.per_model)  # fmt: skip
        seeds = jax.ShapeDtypeStruct((n,), jnp.int32, sharding=p.layout.per_model)
        step_args = (states, d.train_images, d.train_labels, plans, jnp.int32(0), jnp.zeros(n, jnp.int32),
                     jnp.zeros(n), seeds, jnp.int32(0), self.knobs)  # fmt: skip
        static = evaluation_program(p.spec, p.loss, n)
        return ("train", train_steps, (p, False), step_args), *(
            ("eval", stack_evaluation_sums, static, self._eval_args(states.variables, on_train))
            for on_train in (False, True)
        )


def plan_stack(members: Sequence[Member], dataset: Dataset) -> Stack:
    """Check that ``members`` can train as one stack and describe its programs."""
    if not members:
        raise ConfigError("models", N_("a stack needs at least one model"))
    spec, config = members[0]
    for other_spec, other_config in members[1:]:
        if other_spec.replace(seed=0) != spec.replace(seed=0) or replace(other_config, seed=0) != replace(
            config, seed=0
        ):
            raise ConfigError("models", N_("the models of a stack share their shape and settings; only seeds differ"))
    steps_per_epoch(config, dataset.num_train)
    classes = len(dataset.class_names)
    if spec.for_classes(classes) != spec:
        raise ConfigError(
            "num_classes",
            N_(
                "this model has {spec_num_classes} outputs but {dataset_name} has {classes} "
                "classes; train spec.for_classes({classes})"
            ),
            spec_num_classes=spec.num_classes,
            dataset_name=dataset.name,
            classes=classes,
        )
    layout = Layout.choose(len(members), config.batch_size)
    program = Program(spec.replace(seed=0), config.optimizer, config.reconstruction_loss, config.augment,
                      config.batch_size, len(members), layout, config.l2 > 0, config.noise > 0)  # fmt: skip
    train_eval = train_eval_data(dataset, config.train_fraction, layout)
    return Stack(program, device_data(dataset, layout), tuple(c.seed for _, c in members), config, train_eval)


def state_shapes(stack_: Stack, members: Sequence[Member]) -> ModelState:
    """Shapes, dtypes and placement of a stack's states, without computing any value."""
    spec, config = members[0]
    model = models.build_model(spec)

    def one(key):
        variables = model.init(key, models.example_batch(spec))
        params = variables["params"]
        return ModelState(params, fresh_state(config, params), variables.get("batch_stats", {}))

    shape = jax.eval_shape(one, jax.random.key(0))
    n, where = stack_.program.models, stack_.program.layout.per_model
    return jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct((n, *s.shape), s.dtype, sharding=where), shape)


def warm_up(spec: ModelSpec, config: TrainConfig, dataset: Dataset) -> float:
    """Compile what ``train(spec, config, dataset)`` will need, without training; returns seconds.

    The dashboard does this for its default models when it starts, so a first Start is
    already warm; the programs also land in the persistent compilation cache.
    """
    tic = time.perf_counter()
    members = [(spec, config)]
    stack_ = plan_stack(members, dataset)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="warm-up") as pool:
        jobs = stack_.compile(state_shapes(stack_, members), pool)
        models.init_params(spec)
        for job in jobs:
            job.result()
    return time.perf_counter() - tic
