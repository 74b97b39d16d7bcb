"""Dropout, BatchNorm and LayerNorm: the spec, flax's own init and apply, the engine's batch_stats and
dropout keys, old checkpoints, and the command line. Real numbers on real (small) MNIST data."""

import json
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from core import costs, flax_layers, links, models, predict
from core.errors import SpecError
from core.layer_items import parse_layers
from core.layer_kinds import LAYER_KINDS
from core.layers import Layer
from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from core.training.programs import compiled_programs, dropout_key, epoch_plan, to_float
from core.training.stack import fresh_model_state, plan_stack, stack
from core.training.sweep import SweepPlan, scalable_layers, spec_with_width
from core.variables import linen_definitions
from testkit.trees import assert_leaves_close

CHECKPOINTS = Path(__file__).parent / "checkpoints"
BN_DROPOUT = ModelSpec(
    kind="mlp", hidden=parse_layers("64:relu, batchnorm, dropout:0.3, 32:tanh, layernorm", "hidden"), seed=7
)
NO_AUGMENT = TrainConfig(batch_size=64, epochs=2, seed=11, augment=False)


class Reference(nn.Module):
    """BN_DROPOUT written by hand with flax, as the flax documentation writes such a model."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.relu(nn.Dense(64)(x.reshape((x.shape[0], -1))))
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.Dropout(0.3, deterministic=not train)(x)
        x = nn.tanh(nn.Dense(32)(x))
        x = nn.LayerNorm()(x)
        return nn.Dense(10)(x)


# ----- the spec --------------------------------------------------------------------------------


def test_spec_counts_norm_parameters_and_batch_stats_like_flax():
    variables = models.init_variables(BN_DROPOUT)
    sizes = {name: sum(leaf.size for leaf in jax.tree_util.tree_leaves(tree)) for name, tree in variables.items()}
    # Dense 785*64 + 65*32 + 33*10, BatchNorm scale+bias 2*64, LayerNorm scale+bias 2*32
    assert sizes["params"] == BN_DROPOUT.parameter_count == 50_240 + 2_080 + 330 + 128 + 64 == 52_842
    assert sizes["batch_stats"] == BN_DROPOUT.batch_stats_count == 128  # running mean and variance of 64 values
    assert BN_DROPOUT.describe() == "MLP 784-64-batchnorm-dropout 0.3-32-layernorm-10"
    assert BN_DROPOUT.layer_sizes == (784, 64, 32, 10)
    assert [d.path for d in models.dense_layers(BN_DROPOUT)] == ["Dense_0", "Dense_1", "Dense_2"]


def test_json_without_a_type_is_dense_and_new_layers_round_trip():
    old = ModelSpec.from_json('{"kind": "mlp", "hidden": [{"width": 32, "activation": "gelu"}], "seed": 2}')
    assert old == ModelSpec(kind="mlp", hidden=(Layer(32, "gelu"),), seed=2)
    assert old.to_dict()["hidden"] == [{"width": 32, "activation": "gelu"}]  # what earlier versions wrote
    data = BN_DROPOUT.to_dict()
    assert data["hidden"][1:3] == [{"type": "batchnorm"}, {"type": "dropout", "rate": 0.3}]
    assert ModelSpec.from_json(json.dumps(data)) == BN_DROPOUT


@pytest.mark.parametrize(
    ("build", "field", "words"),
    [
        (lambda: ModelSpec(kind="mlp", hidden=(Layer(8), Layer.dropout(1.0))), "hidden[1].rate", "below 1, got 1"),
        (lambda: ModelSpec(kind="mlp", hidden=(Layer.dropout(-0.1),)), "hidden[0].rate", "at least 0"),
        (lambda: ModelSpec(kind="mlp", hidden=(Layer.dropout("x"),)), "hidden[0].rate", "must be a number"),
        (lambda: ModelSpec.from_json('{"hidden": [{"width": 8, "type": "rnn"}]}'), "hidden[0].type", "unknown kind"),
        (lambda: ModelSpec(kind="autoencoder", encoder=(Layer.batchnorm(),)), "encoder", "at least one Dense"),
        (
            lambda: ModelSpec(kind="autoencoder", encoder=(Layer(64), Layer(8, "linear"), Layer.dropout(0.1))),
            "encoder[2]",
            "must end with its code",
        ),
        (lambda: ModelSpec.from_json('{"hidden": [{"type": "dropout", "rate": 2}]}'), "hidden[0].rate", "got 2"),
        (lambda: ModelSpec.from_json('{"hidden": [{"type": "batchnorm", "rate": 2}]}'), "hidden[0]", "look like"),
    ],
)
def test_odd_stacks_are_refused_naming_the_field(build, field, words):
    with pytest.raises(SpecError) as info:
        build()
    assert info.value.field == field
    assert words in str(info.value)


def test_typed_items_and_links_read_every_kind_of_layer():
    assert parse_layers("512:relu,batchnorm,dropout:0.2,256:relu", "hidden") == (
        Layer(512, "relu"), Layer.batchnorm(), Layer.dropout(0.2), Layer(256, "relu"),
    )  # fmt: skip
    assert parse_layers("64, layernorm, 8", "encoder", code_activation="linear")[-1] == Layer(8, "linear")
    for bad, words in [("dropout:2", "'dropout:2'"), ("foo", "'foo' is not a layer"), ("12:nope", "'12:nope'")]:
        with pytest.raises(SpecError, match=words):
            parse_layers(bad, "hidden")
    query = links.to_query(BN_DROPOUT, TrainConfig(), "sample")
    assert query["layers"] == "64.relu-batchnorm-dropout.0.3-32.tanh-layernorm"
    assert links.from_query(query).spec == BN_DROPOUT


def test_costs_count_the_new_layers():
    c = costs.model_costs(BN_DROPOUT)
    assert c.parameters == 52_842 and c.batch_stats_bytes == 128 * 4
    dense_forward = (2 * 784 * 64 + 64 + 64) + (2 * 64 * 32 + 32 + 32) + (2 * 32 * 10 + 10)
    # evaluation: BatchNorm 4 per value (64), dropout off, LayerNorm 7 per value (32)
    assert c.forward_flops == dense_forward + 4 * 64 + 7 * 32
    plain = ModelSpec.mlp((64, 32), seed=7).replace(hidden=(Layer(64), Layer(32, "tanh")))
    backward = costs.train_flops(plain) - costs.forward_flops(plain)
    # training forward: BatchNorm 7, dropout 2, LayerNorm 7 per value; backward twice that
    assert c.train_flops == dense_forward + backward + 3 * (7 * 64 + 2 * 64 + 7 * 32)
    assert costs.describe_change(plain, plain.replace(hidden=(Layer(64), Layer.batchnorm(), Layer(32, "tanh")))) == (
        "one more layer (batchnorm, layer 2): adds 128 parameters (+0.2%)"
    )


def test_the_sweep_resizes_only_dense_layers():
    assert scalable_layers(BN_DROPOUT) == (0, 3)
    wide = spec_with_width(BN_DROPOUT, "all", 128)
    assert [layer.describe() for layer in wide.hidden] == [
        "128 relu",
        "batchnorm",
        "dropout 0.3",
        "64 tanh",
        "layernorm",
    ]
    assert spec_with_width(BN_DROPOUT, 3, 8).hidden[3] == Layer(8, "tanh")
    with pytest.raises(Exception, match="layer 1 is batchnorm, which has no width"):
        SweepPlan(BN_DROPOUT, 1, (8, 16))


# ----- flax's own init and apply ---------------------------------------------------------------------


def test_init_equals_flax_model_init_of_the_same_module_written_by_hand():
    x = jnp.zeros((1, 28, 28, 1))
    ours = models.init_variables(BN_DROPOUT)  # compiled once per shape
    by_hand = Reference().init(jax.random.key(7), x)
    assert set(ours) == {"params", "batch_stats"}
    assert_leaves_close(ours, by_hand)
    assert_leaves_close(ours, models.build_model(BN_DROPOUT).init(jax.random.key(7), x))
    np.testing.assert_array_equal(ours["batch_stats"]["BatchNorm_0"]["mean"], np.zeros(64))
    np.testing.assert_array_equal(ours["batch_stats"]["BatchNorm_0"]["var"], np.ones(64))


@pytest.mark.parametrize(("epoch", "position"), [(0, 0), (1, 3)])
def test_one_engine_step_equals_model_apply_with_mutable_batch_stats_by_hand(small, epoch, position):
    config = TrainConfig(batch_size=64, epochs=2, seed=11, augment=False)
    members = [(BN_DROPOUT, config)]
    stack_ = plan_stack(members, small)
    start = fresh_model_state(BN_DROPOUT, config)
    plans = np.stack([epoch_plan(config.seed, epoch, small.num_train)])
    per_epoch = small.num_train // 64
    states, losses, done = stack_.steps(False, stack([start]), plans, position, [1], [np.inf], epoch * per_epoch)
    assert int(done) == 1

    # the same step by hand: flax's apply in training mode, the dropout key of the run's step number
    # (epoch 1, batch 3: step 19), optax's adam
    model = Reference()
    rows = plans[0, 0, position * 64 : (position + 1) * 64]
    x, y = to_float(jnp.asarray(small.train_images[rows])), jnp.asarray(small.train_labels[rows])
    rngs = {"dropout": dropout_key(jnp.int32(11), jnp.int32(epoch * per_epoch + position))}

    def loss_of(params):
        logits, updates = model.apply({"params": params, "batch_stats": start.batch_stats}, x, train=True,
                                      rngs=rngs, mutable=["batch_stats"])  # fmt: skip
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), updates["batch_stats"]

    (loss, batch_stats), grads = jax.value_and_grad(loss_of, has_aux=True)(start.params)
    tx = optax.adam(1e-3)
    updates, _ = tx.update(grads, tx.init(start.params), start.params)
    assert float(losses[0, 0]) == pytest.approx(float(loss), rel=1e-6)
    assert_leaves_close(jax.tree_util.tree_map(lambda leaf: leaf[0], states.batch_stats), batch_stats)
    # Adam's first step moves each weight by about the learning rate (1e-3); a weight whose gradient is
    # near Adam's epsilon rounds differently in the two programs
    trained = jax.tree_util.tree_map(lambda leaf: leaf[0], states.params)
    assert_leaves_close(trained, optax.apply_updates(start.params, updates), atol=1e-5)  # 1% of a step
    # the running mean moved 10% of the way (momentum 0.9) to the batch's mean after the ReLU: positive
    mean = np.asarray(states.batch_stats["BatchNorm_0"]["mean"][0])
    hidden = nn.relu(x.reshape(64, -1) @ start.params["Dense_0"]["kernel"] + start.params["Dense_0"]["bias"])
    np.testing.assert_allclose(mean, 0.1 * np.asarray(hidden.mean(axis=0)), rtol=1e-4, atol=1e-6)
    assert mean.max() > 0.01


def test_dropout_is_off_when_evaluating_and_on_in_training(small):
    variables = models.init_variables(BN_DROPOUT)
    model = models.build_model(BN_DROPOUT)
    x = to_float(jnp.asarray(small.test_images[:32]))
    first = predict.predict_probabilities(BN_DROPOUT, variables, small.test_images[:32])
    second = predict.predict_probabilities(BN_DROPOUT, variables, small.test_images[:32])
    np.testing.assert_array_equal(first, second)  # two evaluations are equal
    evaluation = np.asarray(model.apply(variables, x))
    np.testing.assert_allclose(np.asarray(jax.nn.softmax(evaluation)), first, rtol=1e-5, atol=1e-6)

    def training(key):
        out, _ = model.apply(variables, x, train=True, rngs={"dropout": key}, mutable=["batch_stats"])
        return np.asarray(out)

    a, b = training(jax.random.key(1)), training(jax.random.key(2))
    assert np.abs(a - b).max() > 0.01  # different keys, different dropped values
    np.testing.assert_array_equal(a, training(jax.random.key(1)))  # the same key, the same masks
    assert np.abs(a - evaluation).max() > 0.01


# ----- the engine ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_epochs(small):
    return train(BN_DROPOUT, NO_AUGMENT, small)


def test_same_seed_same_curve_and_the_batch_stats_are_trained(small, two_epochs):
    again = train(BN_DROPOUT, NO_AUGMENT, small)
    assert again.history.step_losses == two_epochs.history.step_losses
    assert_leaves_close(again.batch_stats, two_epochs.batch_stats)
    assert two_epochs.status == "finished" and two_epochs.steps == 2 * (1024 // 64)
    # trained running statistics: no longer the starting 0 and 1
    stats = two_epochs.batch_stats["BatchNorm_0"]
    assert float(np.abs(stats["mean"]).max()) > 0.05 and float(np.abs(stats["var"] - 1).max()) > 0.05
    # the test score is that of evaluation mode, the same the predictions give
    evaluation = predict.evaluate(BN_DROPOUT, two_epochs.variables, small.test_images, small.test_labels)
    assert evaluation.accuracy == pytest.approx(two_epochs.test_metrics["accuracy"])
    assert evaluation.accuracy > 0.5  # 32 steps of 64 images: far above chance (0.1)
    other_seed = train(BN_DROPOUT, TrainConfig(batch_size=64, epochs=1, seed=12, augment=False), small)
    assert other_seed.history.step_losses[0] != two_epochs.history.step_losses[0]


def test_resume_continues_exactly_with_dropout_and_batch_norm(small, two_epochs):
    first = train(BN_DROPOUT, NO_AUGMENT.with_epochs(1), small)
    resumed = train(BN_DROPOUT, NO_AUGMENT, small, resume=first)
    assert resumed.history.step_losses == two_epochs.history.step_losses
    assert_leaves_close(resumed.params, two_epochs.params)
    assert_leaves_close(resumed.batch_stats, two_epochs.batch_stats)


def test_a_run_stopped_mid_epoch_resumes_exactly_with_dropout_and_batch_norm(small, two_epochs):
    import threading

    from core.training import Phase

    stop = threading.Event()

    def after_first_chunk(progress):
        if progress.phase == Phase.TRAINING and progress.step >= 2:
            stop.set()

    stopped = train(BN_DROPOUT, NO_AUGMENT, small, on_progress=after_first_chunk, stop=stop)
    assert stopped.status == "stopped" and 0 < stopped.steps < 1024 // 64  # in the middle of the first epoch
    resumed = train(BN_DROPOUT, NO_AUGMENT, small, resume=stopped)
    assert resumed.history.step_losses == two_epochs.history.step_losses
    assert_leaves_close(resumed.batch_stats, two_epochs.batch_stats)


def test_seeds_trained_together_match_separate_runs_with_dropout_and_batch_norm(small):
    from dataclasses import replace

    from core.training.engine import train_stack

    config = TrainConfig(batch_size=64, epochs=1, augment=False)
    members = [(BN_DROPOUT.replace(seed=s), replace(config, seed=s)) for s in (3, 4)]
    together = train_stack(members, small)
    for (spec, member_config), result in zip(members, together, strict=True):
        alone = train(spec, member_config, small)
        np.testing.assert_allclose(result.history.step_losses, alone.history.step_losses, rtol=1e-4)
        assert_leaves_close(result.batch_stats, alone.batch_stats, rtol=1e-4, atol=1e-5)
        assert result.final_metrics.test_loss == pytest.approx(alone.final_metrics.test_loss, rel=1e-4)
    assert together[0].history.step_losses[0] != together[1].history.step_losses[0]


def test_a_diverging_batch_norm_model_keeps_its_last_good_batch_stats(small):
    config = TrainConfig(optimizer="sgd", learning_rate=1e6, batch_size=64, epochs=1, augment=False)
    result = train(BN_DROPOUT, config, small)
    assert result.status == "diverged" and "learning rate" in result.reason
    stats = result.batch_stats["BatchNorm_0"]
    assert np.all(np.isfinite(np.asarray(stats["mean"]))) and np.all(np.isfinite(np.asarray(stats["var"])))
    assert np.isfinite(result.test_metrics["loss"])  # evaluated with the kept parameters and statistics


def test_a_dense_only_program_draws_no_random_numbers(small):
    config = TrainConfig(batch_size=64, epochs=1, augment=False)
    train(ModelSpec.mlp((24,), seed=1), config, small)
    train(ModelSpec(kind="mlp", hidden=(Layer(23), Layer.dropout(0.5))), config, small)
    texts = [program.as_text() for program in compiled_programs("train")]
    dense_only = [t for t in texts if "784,24]" in t]
    with_dropout = [t for t in texts if "784,23]" in t]
    assert dense_only and with_dropout
    assert not any("threefry" in t.lower() or "rng" in t.lower() for t in dense_only)
    assert all("threefry" in t.lower() for t in with_dropout)


# ----- checkpoints ---------------------------------------------------------------------------------


def test_a_checkpoint_written_by_the_previous_version_still_loads(small):
    # written by the code of main before these layers existed (an MLP 784-4-10 trained one epoch on the
    # first 256 training images of the sample, batches of 64, seed 5)
    loaded = checkpoint.load(CHECKPOINTS / "main-2026-12-mlp-4.msgpack")
    assert loaded.spec == ModelSpec.mlp((4,), seed=3) and loaded.batch_stats == {}
    assert loaded.history.step_losses == pytest.approx([2.330440, 2.298001, 2.277066, 2.298663], abs=1e-6)
    sample_test = small.test_images[:100], small.test_labels[:100]
    evaluation = predict.evaluate(loaded.spec, loaded.variables, *sample_test)
    assert evaluation.accuracy == pytest.approx(0.12) and evaluation.loss == pytest.approx(2.2644797, abs=1e-5)
    resumed = train(loaded.spec, loaded.config.with_epochs(2), small, resume=loaded)
    assert resumed.status == "finished" and resumed.steps == 2 * (1024 // 64)  # resumed at step 4 of 32


def test_checkpoint_keeps_batch_stats_and_refuses_damaged_ones(two_epochs):
    loaded = checkpoint.from_bytes(checkpoint.to_bytes(two_epochs))
    assert_leaves_close(loaded.batch_stats, two_epochs.batch_stats)
    assert_leaves_close(loaded.params, two_epochs.params)
    from flax import serialization

    payload = serialization.msgpack_restore(checkpoint.to_bytes(two_epochs))
    payload["batch_stats"]["BatchNorm_0"]["mean"] = np.zeros(3, np.float32)
    with pytest.raises(checkpoint.CheckpointError, match=r"batch_stats/BatchNorm_0/mean is float32\[3\]"):
        checkpoint.from_bytes(serialization.msgpack_serialize(payload))
    del payload["batch_stats"]
    with pytest.raises(checkpoint.CheckpointError, match="lacks batch_stats/BatchNorm_0/mean"):
        checkpoint.from_bytes(serialization.msgpack_serialize(payload))


def test_an_autoencoder_with_the_new_layers_trains_and_encodes(small):
    spec = ModelSpec(
        kind="autoencoder",
        encoder=parse_layers("64, batchnorm, dropout:0.1, 8", "encoder", code_activation="linear"),
        decoder=parse_layers("layernorm, 64", "decoder"),
    )
    assert spec.code_size == 8 and spec.describe() == "AutoEncoder 784-64-batchnorm-dropout 0.1-[8]-layernorm-64-784"
    result = train(spec, TrainConfig(batch_size=64, epochs=1, augment=False), small)
    assert result.status == "finished" and set(result.batch_stats) == {"encoder"}
    codes = predict.encode(spec, result.variables, small.test_images[:10])
    assert codes.shape == (10, 8)
    np.testing.assert_array_equal(codes, predict.encode(spec, result.variables, small.test_images[:10]))
    rebuilt = predict.reconstruct(spec, result.variables, small.test_images[:200])
    mse = float(((rebuilt - small.test_images[:200] / 255.0) ** 2).mean())
    assert mse == pytest.approx(result.test_metrics["mse"], rel=1e-4)


# ----- the command line ------------------------------------------------------------------------------


def _run_main(capsys, *args: str) -> tuple[int, str, str]:
    from core.cli import main

    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_trains_the_layers_of_the_issue(capsys, tmp_path):
    ckpt = tmp_path / "bn.msgpack"
    code, out, err = _run_main(
        capsys, "train", "--model", "mlp", "--layers", "512:relu,batchnorm,dropout:0.2,256:relu", "--epochs", "1",
        "--quiet", "--save", str(ckpt),
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["model"] == "MLP 784-512-batchnorm-dropout 0.2-256-10"
    assert result["params"] == 785 * 512 + 2 * 512 + 513 * 256 + 257 * 10 == 536_842
    assert result["status"] == "finished" and result["steps"] == 4_500 // 128
    assert result["test_accuracy"] > 0.8  # one epoch of the 4,500-image sample
    saved = checkpoint.load(ckpt)
    assert saved.spec.hidden[1:3] == (Layer.batchnorm(), Layer.dropout(0.2))
    assert saved.batch_stats["BatchNorm_0"]["var"].shape == (512,)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--layers", "512,dropout:2"), "--layers: 'dropout:2': a dropout rate"),
        (("--layers", "foo"), "--layers: 'foo' is not a layer"),
        (("--layers", "12:nope"), "--layers: '12:nope': unknown activation 'nope'"),
        (("--layers", "64", "--widths", "64"), "give --widths or --layers, not both"),
        (("--model", "autoencoder", "--encoder", "64,dropout:0.1"), "encoder[1]: the encoder must end with its code"),
        (("--model", "autoencoder", "--decoder", "batchnorm:3"), "--decoder: 'batchnorm:3': batchnorm takes no value"),
    ],
)
def test_cli_bad_layer_items_exit_2_with_one_line_naming_them(capsys, args, words):
    code, out, err = _run_main(capsys, "train", *args, "--epochs", "1", "--quiet")
    assert code == 2 and not out
    assert len(err.strip().splitlines()) == 1 and words in err, err


def test_every_kind_of_layer_carries_its_own_flax_call_shown_with_the_model():
    shown = linen_definitions()
    calls = set()
    for name, kind in LAYER_KINDS.items():
        layer = kind.for_editor()
        call, *settings = layer.module_item()
        assert kind.name == name and call is getattr(flax_layers, call.__name__) and settings == [*layer.settings()]
        assert f"def {call.__name__}(x, train: bool" in shown  # the person reads the call the model makes
        calls.add(call)
    assert len(calls) == len(LAYER_KINDS)  # one call per kind
    assert not hasattr(flax_layers, "LAYERS")  # no second table of the kinds by name
