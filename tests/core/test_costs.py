import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest

from core import models
from core.costs import (
    describe_change,
    forward_flops,
    human_bytes,
    human_count,
    model_costs,
    parameter_diff,
    train_flops,
)
from core.spec import ModelSpec
from core.training import TrainConfig


def test_small_model_by_hand():
    spec = ModelSpec.mlp((3,), activation="relu")  # 784 -> 3 (relu) -> 10 (linear)
    # forward: 2*784*3 + 3 (bias) + 3 (relu) + 2*3*10 + 10 (bias)
    assert forward_flops(spec) == 4704 + 3 + 3 + 60 + 10
    # backward: weight+bias grads of both layers, input grad of the second only
    assert train_flops(spec) == forward_flops(spec) + (4704 + 3) + (60 + 10) + 60
    costs = model_costs(spec, TrainConfig(optimizer="adam"))
    assert costs.parameters == 785 * 3 + 4 * 10 == 2395
    assert costs.parameter_bytes == 4 * 2395
    # adam keeps two float32 moments per parameter, plus 7 scalars: two step counters and the
    # injected hyperparameters b1, b2, eps, eps_root and the learning rate
    assert costs.optimizer_state_bytes == 2 * 4 * 2395 + 7 * 4


@pytest.mark.parametrize(("optimizer", "moments"), [("adam", 2), ("adamw", 2), ("sgd", 1)])
def test_optimizer_state_scales_with_parameters(optimizer, moments):
    spec = ModelSpec.mlp((512, 256))
    extra = model_costs(spec, TrainConfig(optimizer=optimizer)).optimizer_state_bytes - moments * 4 * 535_818
    assert 0 < extra < 64  # only a few scalars beyond the moments


def test_matmul_flops_agree_with_xla_cost_analysis():
    """Our count against what XLA itself reports for the compiled forward pass."""
    spec = ModelSpec.mlp((512, 256))
    model = models.build_model(spec)
    variables = models.init_variables(spec)
    batch = 64
    cost = jax.jit(model.apply).lower(variables, jnp.zeros((batch, 28, 28, 1))).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    assert forward_flops(spec) * batch == pytest.approx(cost["flops"], rel=0.02)


@pytest.mark.parametrize(
    ("spec", "transcendental"),
    [(ModelSpec.mlp((64, 32)), 0), (ModelSpec.mlp((512, 256), "tanh"), 512 + 256)],
    ids=["relu", "tanh"],
)
def test_flax_tabulate_agrees_on_parameters_and_forward_flops(spec, transcendental):
    """flax's own nn.tabulate(compute_flops=True) reports the same parameters and forward FLOPs;
    it counts tanh as a transcendental, not a FLOP, where we count one operation per unit."""
    table = nn.tabulate(models.build_model(spec), jax.random.key(0), compute_flops=True)(jnp.zeros((1, 28, 28, 1)))
    assert f"{spec.parameter_count:,}" in table
    assert f" {forward_flops(spec) - transcendental} " in table  # the MLP row: flops of one example


def test_describe_a_width_change():
    old, new = ModelSpec.mlp((512, 128)), ModelSpec.mlp((512, 256))
    delta = new.parameter_count - old.parameter_count
    assert delta == 512 * 128 + 128 + 10 * 128  # Dense_1 gains 128 units, Dense_2 128 inputs
    expected = f"layer 2: 128 → 256 units adds {delta:,} parameters (+{delta / old.parameter_count:.0%})"
    assert describe_change(old, new) == expected
    assert describe_change(new, old).startswith("layer 2: 256 → 128 units removes")
    assert describe_change(old, old) == ""


def test_describe_other_changes():
    base = ModelSpec.mlp((64, 32))
    one = base.replace(hidden=(base.hidden[0], base.hidden[1].__class__(32, "tanh")))
    assert describe_change(base, one) == "layer 2: activation relu → tanh (same parameters)"
    assert describe_change(base, ModelSpec.mlp((64, 32), "tanh")) == "activations changed (same parameters)"
    assert describe_change(base, ModelSpec.mlp((64, 32, 16))).startswith("one more layer: adds")
    assert describe_change(base, ModelSpec.mlp((64,))).startswith("one layer fewer: removes")
    assert describe_change(base, base.replace(seed=3)).startswith("seed 0 → 3")
    assert describe_change(base, ModelSpec.autoencoder()).startswith("switched to AutoEncoder")


def test_parameter_diff_matches_layers():
    diff = parameter_diff(ModelSpec.mlp((64, 32)), ModelSpec.mlp((64,)))
    assert [(d.path, d.before, d.after) for d in diff] == [
        ("Dense_0", 785 * 64, 785 * 64),
        ("Dense_1", 65 * 32, 65 * 10),
        ("Dense_2", 33 * 10, None),
    ]


def test_human_numbers():
    assert human_count(1_234_567) == "1.2 million" and human_count(999) == "999"
    assert human_bytes(2_143_272) == "2.1 MB" and human_bytes(12) == "12 bytes"
