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
from core.spec import Layer, ModelSpec
from core.training import TrainConfig


def mlp_784_3_5_10() -> ModelSpec:
    """Dense_0 784->3 relu, Dense_1 3->5 linear (a hidden layer without activation), Dense_2 5->10 output."""
    return ModelSpec(kind="mlp", hidden=(Layer(3, "relu"), Layer(5, "linear")))


def test_mlp_costs_by_hand():
    spec = mlp_784_3_5_10()
    # parameters: (inputs + 1 bias) * outputs per layer
    assert spec.parameter_count == 785 * 3 + 4 * 5 + 6 * 10 == 2435
    # forward: 2*in*out matmul + out bias + out activations (none for the linear layers)
    dense_0 = 2 * 784 * 3 + 3 + 3
    dense_1 = 2 * 3 * 5 + 5
    dense_2 = 2 * 5 * 10 + 10
    assert forward_flops(spec) == dense_0 + dense_1 + dense_2 == 4855
    # backward: weight and bias gradients of every layer, input gradients of all but the first
    weights_and_biases = (2 * 784 * 3 + 3) + (2 * 3 * 5 + 5) + (2 * 5 * 10 + 10)
    inputs_below = 2 * 3 * 5 + 2 * 5 * 10
    assert train_flops(spec) == 4855 + weights_and_biases + inputs_below == 9837
    costs = model_costs(spec, TrainConfig(optimizer="adam"))
    assert (costs.parameters, costs.parameter_bytes, costs.forward_flops, costs.train_flops) == (
        2435,
        4 * 2435,
        4855,
        9837,
    )


def test_autoencoder_costs_by_hand():
    spec = ModelSpec.autoencoder((6, 2), (4,))  # 784 -6 relu- [2] linear code -4 relu- 784 sigmoid
    assert spec.parameter_count == 785 * 6 + 7 * 2 + 3 * 4 + 5 * 784 == 8656
    encoder_0 = 2 * 784 * 6 + 6 + 6
    code = 2 * 6 * 2 + 2
    decoder_0 = 2 * 2 * 4 + 4 + 4
    reconstruction = 2 * 4 * 784 + 784 + 784  # the sigmoid counts one operation per pixel
    assert forward_flops(spec) == encoder_0 + code + decoder_0 + reconstruction == 17310
    weights_and_biases = (2 * 784 * 6 + 6) + (2 * 6 * 2 + 2) + (2 * 2 * 4 + 4) + (2 * 4 * 784 + 784)
    inputs_below = 2 * 6 * 2 + 2 * 2 * 4 + 2 * 4 * 784
    assert train_flops(spec) == 17310 + weights_and_biases + inputs_below == 40138


@pytest.mark.parametrize(
    ("optimizer", "expected"),
    [
        # inject_hyperparams keeps a step counter and each hyperparameter as a 4-byte scalar:
        # adam: count + learning_rate, b1, b2, eps, eps_root, then scale_by_adam's own count and mu, nu
        ("adam", 2 * 4 * 2435 + 7 * 4),
        # adamw: the same plus weight_decay
        ("adamw", 2 * 4 * 2435 + 8 * 4),
        # sgd: count + learning_rate, momentum, then one momentum trace
        ("sgd", 1 * 4 * 2435 + 3 * 4),
    ],
)
def test_optimizer_state_bytes_by_hand(optimizer, expected):
    assert model_costs(mlp_784_3_5_10(), TrainConfig(optimizer=optimizer)).optimizer_state_bytes == expected


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
    # Dense_1 gains 128 units (513 parameters each), Dense_2 gains 128 inputs (10 weights each):
    # 128 * 513 + 128 * 10 = 66,944 more, on 785*512 + 513*128 + 129*10 = 468,874 before (+14.3%)
    assert describe_change(old, new) == "layer 2: 128 → 256 units adds 66,944 parameters (+14%)"
    # back down: 66,944 / 535,818 = -12.49%
    assert describe_change(new, old) == "layer 2: 256 → 128 units removes 66,944 parameters (-12%)"
    assert describe_change(old, old) == ""


def test_describe_other_changes():
    base = ModelSpec.mlp((64, 32))
    one = base.replace(hidden=(base.hidden[0], base.hidden[1].__class__(32, "tanh")))
    assert describe_change(base, one) == "layer 2: activation relu → tanh (same parameters)"
    assert describe_change(base, ModelSpec.mlp((64, 32), "tanh")) == "activations changed (same parameters)"
    # 785*64 + 65*32 + 33*10 = 52,650 before; a third layer of 16: 33*16 + 17*10 - 33*10 = +368 (+0.7%)
    assert (
        describe_change(base, ModelSpec.mlp((64, 32, 16)))
        == "one more layer (16 units, layer 3) adds 368 parameters (+0.7%)"
    )
    # without layer 2: 65*32 + 33*10 - 65*10 = 1,760 fewer (-3.3%)
    assert describe_change(base, ModelSpec.mlp((64,))) == "layer 2 (32 units) removed: removes 1,760 parameters (-3%)"
    assert describe_change(base, base.replace(seed=3)).startswith("seed 0 → 3")
    assert describe_change(base, ModelSpec.autoencoder()).startswith("switched to AutoEncoder")


def test_a_layer_that_removes_parameters_says_why_and_tiny_changes_are_not_zero_percent():
    old = ModelSpec.mlp((512, 256))
    # 784 -> 16 -> 512 instead of 784 -> 512: 785*16 + 17*512 - 785*512 = 380,656 fewer of 535,818 (-71%)
    assert describe_change(old, ModelSpec.mlp((16, 512, 256))) == (
        "one more layer (16 units, layer 1) removes 380,656 parameters (-71%): "
        "the layers around it now connect through its 16 units"
    )
    # 256 -> 255 units: 513 + 10 = 523 fewer of 535,818 (-0.098%)
    assert (
        describe_change(old, ModelSpec.mlp((512, 255)))
        == "layer 2: 256 → 255 units removes 523 parameters (less than 0.1%)"
    )
    # 512 -> 511 in layer 1: 785 + 256 = 1,041 fewer (-0.19%)
    assert (
        describe_change(old, ModelSpec.mlp((511, 256))) == "layer 1: 512 → 511 units removes 1,041 parameters (-0.2%)"
    )


def test_parameter_diff_matches_layers():
    diff = parameter_diff(ModelSpec.mlp((64, 32)), ModelSpec.mlp((64,)))
    assert [(d.path, d.before, d.after) for d in diff] == [
        ("Dense_0", 785 * 64, 785 * 64),
        ("Dense_1", 65 * 32, 65 * 10),
        ("Dense_2", 33 * 10, None),
    ]


def test_the_diff_table_reads_as_words_not_raw_numbers_or_none():
    grown = parameter_diff(ModelSpec.mlp((512,)), ModelSpec.mlp((512, 256)))
    assert [d.in_words() for d in grown] == [
        {"layer": "Dense_0", "before": "401,920", "now": "401,920", "change": "same"},
        # Dense_1 was the 10-unit output (513*10) and is now 256 units (513*256): +126,198
        {"layer": "Dense_1", "before": "5,130", "now": "131,328", "change": "+126,198"},
        {"layer": "Dense_2", "before": "new layer", "now": "2,570", "change": "+2,570"},
    ]
    shrunk = parameter_diff(ModelSpec.mlp((512, 256)), ModelSpec.mlp((64, 256)))
    assert shrunk[0].in_words()["change"] == f"{785 * 64 - 785 * 512:+,}" == "-351,680"


def test_human_numbers():
    assert human_count(1_234_567) == "1.2 million" and human_count(999) == "999"
    assert human_bytes(2_143_272) == "2.1 MB" and human_bytes(12) == "12 bytes"
