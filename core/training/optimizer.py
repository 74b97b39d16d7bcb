"""The optimizer, from the learning rate a person types to the update of the compiled step.

1. ``TrainConfig`` (config.py) holds the validated values: ``learning_rate``, ``momentum``
   (sgd), ``weight_decay`` (adamw).
2. ``optimizer(config)`` is the optax transform with those values,
   ``optax.inject_hyperparams(optax.adam)(learning_rate=config.learning_rate)``: injected
   hyperparameters live in the optimizer *state*, so a new learning rate is new data for
   the compiled step, not a new program (and can change while a run trains).
3. ``fresh_state(config, params)`` is ``optimizer(config).init(params)``.
4. The compiled step (programs.py) applies ``update_transform(name).update(grads, state,
   params)``; its update reads every hyperparameter from ``state``.
5. ``with_hyperparameters(state, values)`` writes values into an existing state (a resumed
   run's config, or a learning rate changed during training): the one place that does.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from core.training.config import TrainConfig

FACTORIES = {"adam": optax.adam, "adamw": optax.adamw, "sgd": optax.sgd}


def hyperparameters(config: TrainConfig) -> dict[str, float]:
    """The values a config sets in its optimizer: the learning rate, and momentum or weight decay."""
    values = {"learning_rate": config.learning_rate}
    if config.optimizer == "sgd":
        values["momentum"] = config.momentum
    elif config.optimizer == "adamw":
        values["weight_decay"] = config.weight_decay
    return values


def optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """The optax transform a run trains with, built with the config's hyperparameters."""
    return optax.inject_hyperparams(FACTORIES[config.optimizer])(**hyperparameters(config))


@cache
def update_transform(name: str) -> optax.GradientTransformation:
    """The transform whose ``update`` the compiled step calls: one per optimizer, since that
    update takes every hyperparameter from the state it is given."""
    return optimizer(TrainConfig(optimizer=name))


def fresh_state(config: TrainConfig, params: Any) -> Any:
    """``optimizer(config).init(params)``, without compiling a program per parameter shape.

    For adam, adamw and sgd every array of a fresh state is zeros (moments, momentum, step
    counts) except the injected hyperparameters, which do not depend on the parameters:
    they are taken from the state of one scalar. A test checks this equals ``init(params)``.
    """
    tx = optimizer(config)
    shapes = jax.eval_shape(tx.init, params)
    zeros = jax.tree_util.tree_map(lambda s: jnp.asarray(np.zeros(s.shape, s.dtype)), shapes)
    with jax.ensure_compile_time_eval():  # concrete values even when called while tracing
        hyper = tx.init({"w": jnp.zeros(())}).hyperparams
    return zeros._replace(hyperparams=dict(hyper))


def with_hyperparameters(state: Any, values: dict[str, float]) -> Any:
    """The optimizer ``state`` with ``values`` (``hyperparameters(config)``, or a new learning rate)
    written in, each keeping its shape (one per model of a stack), dtype and placement, so that the
    compiled step is reused."""
    hyper = dict(state.hyperparams)
    for name, value in values.items():
        old = jnp.asarray(hyper[name])
        hyper[name] = jax.device_put(np.full(old.shape, value, old.dtype), old.sharding)
    return state._replace(hyperparams=hyper)


def learning_rate(state: Any) -> float:
    """The learning rate a state trains with now."""
    return float(np.asarray(state.hyperparams["learning_rate"]).reshape(-1)[0])
