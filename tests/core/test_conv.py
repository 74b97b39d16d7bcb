"""Conv, MaxPool, AvgPool and ConvTranspose: shapes, refusals naming the item, text forms, flax's own
init and apply against the same models written by hand, and exact costs worked by hand."""

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from core import costs, links, models
from core.conv_layers import AvgPool, Conv, ConvTranspose, MaxPool
from core.errors import SpecError
from core.flax_layers import dense, reshape
from core.layer_items import layer_from_link, layers_text, parse_layers
from core.layer_kinds import LAYER_KINDS
from core.layers import Layer
from core.spec import ModelSpec
from core.training import TrainConfig

FLAX_EXAMPLE = ModelSpec(
    kind="mlp", hidden=parse_layers("conv:32:3:relu,avgpool,conv:64:3:relu,avgpool,256:relu", "hidden")
)
CONV_AE = ModelSpec(
    kind="autoencoder",
    encoder=parse_layers("conv:16,maxpool,conv:32,batchnorm,maxpool,32", "encoder", code_activation="linear"),
    decoder=parse_layers("convt:32,convt:16", "decoder"),
)


class FlaxExampleCNN(nn.Module):
    """The CNN of flax's examples/mnist, as flax writes it."""

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(features=32, kernel_size=(3, 3))(x))
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = nn.relu(nn.Conv(features=64, kernel_size=(3, 3))(x))
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))  # flatten
        x = nn.relu(nn.Dense(features=256)(x))
        return nn.Dense(features=10)(x)


def _shapes(tree):
    return jax.tree_util.tree_map(jnp.shape, tree)


# ----- shapes and counts -------------------------------------------------------------------------


def test_the_flax_example_cnn_has_flax_s_variables_shapes_and_outputs():
    assert [one.describe() for one in FLAX_EXAMPLE.layer_shapes()] == [
        "conv 32 3x3 relu: 28x28x1 -> 28x28x32",
        "avgpool: 28x28x32 -> 14x14x32",
        "conv 64 3x3 relu: 14x14x32 -> 14x14x64",
        "avgpool: 14x14x64 -> 7x7x64",
        "256 relu: 7x7x64 -> 256",
        "10 linear: 256 -> 10",
    ]
    x = jnp.asarray(np.random.default_rng(0).random((3, 28, 28, 1)), jnp.float32)
    reference = FlaxExampleCNN().init(jax.random.key(0), x)
    ours = models.init_variables(FLAX_EXAMPLE)
    assert _shapes(ours) == _shapes(reference)
    assert ours["params"]["Conv_1"]["kernel"].shape == (3, 3, 32, 64)
    # (3*3*1+1)*32 + (3*3*32+1)*64 + (7*7*64+1)*256 + (256+1)*10: flax's example has 824,458 parameters
    assert FLAX_EXAMPLE.parameter_count == 320 + 18_496 + 803_072 + 2_570 == 824_458
    assert sum(leaf.size for leaf in jax.tree_util.tree_leaves(ours)) == 824_458
    np.testing.assert_allclose(
        models.build_model(FLAX_EXAMPLE).apply(reference, x), FlaxExampleCNN().apply(reference, x), rtol=1e-6
    )
    assert FLAX_EXAMPLE.describe() == "MLP 784-conv32-avgpool-conv64-avgpool-256-10"
    assert models.layer_paths(FLAX_EXAMPLE) == ("Conv_0", None, "Conv_1", None, "Dense_0", "Dense_1")


def test_batchnorm_and_dropout_after_a_conv_work_per_channel():
    spec = ModelSpec(kind="mlp", hidden=parse_layers("conv:8:5, batchnorm, dropout:0.25, maxpool, 16", "hidden"))
    variables = models.init_variables(spec)
    assert variables["batch_stats"]["BatchNorm_0"]["mean"].shape == (8,)  # one per channel
    assert variables["params"]["Conv_0"]["kernel"].shape == (5, 5, 1, 8)
    # conv (5*5*1+1)*8, BatchNorm scale and bias per channel 2*8, Dense (14*14*8+1)*16, output (16+1)*10
    assert spec.parameter_count == 208 + 16 + 25_104 + 170 == 25_498
    assert sum(leaf.size for leaf in jax.tree_util.tree_leaves(variables["params"])) == 25_498
    assert spec.batch_stats_count == 16
    model = models.build_model(spec)
    x = jnp.ones((4, 28, 28, 1))
    out, stats = models.forward(model, variables, x, train=True, rngs={"dropout": jax.random.key(1)})
    assert out.shape == (4, 10) and stats["BatchNorm_0"]["var"].shape == (8,)


def test_the_conv_autoencoder_grows_its_code_back_to_28x28_and_encodes_with_method():
    assert [one.describe() for one in CONV_AE.layer_shapes() if one.stack == "decoder"] == [
        "1,568 relu: 32 -> 1568",  # the Dense layer that makes the decoder's first image: 7x7x32
        "convt 32 3x3 relu: 7x7x32 -> 14x14x32",
        "convt 16 3x3 relu: 14x14x32 -> 28x28x16",
        "conv 1 3x3 linear: 28x28x16 -> 28x28x1",  # the last 1-channel layer, then the sigmoid
    ]
    model = models.build_model(CONV_AE)
    assert model.decoder_layers[:2] == ((dense, 1568, "relu"), (reshape, 7, 7, 32))
    variables = models.init_variables(CONV_AE)
    assert variables["params"]["decoder"]["ConvTranspose_1"]["kernel"].shape == (3, 3, 32, 16)
    assert sum(leaf.size for leaf in jax.tree_util.tree_leaves(variables["params"])) == CONV_AE.parameter_count
    # encoder 160 + 4,640 + BatchNorm 64 + code (7*7*32+1)*32; decoder (32+1)*1568, 2 convt, last conv
    assert CONV_AE.parameter_count == 160 + 4_640 + 64 + 50_208 + 51_744 + 9_248 + 4_624 + 145 == 120_833
    x = jnp.asarray(np.random.default_rng(1).random((2, 28, 28, 1)), jnp.float32)
    code = model.apply(variables, x, method=model.encode)
    image = model.apply(variables, code, method=model.decode)
    assert code.shape == (2, 32) and image.shape == (2, 28, 28, 1)
    np.testing.assert_allclose(image, model.apply(variables, x), rtol=1e-6)
    assert float(image.min()) > 0 and float(image.max()) < 1  # the sigmoid
    assert CONV_AE.code_size == 32 and CONV_AE.code_index == 5


def test_one_transposed_convolution_starts_from_14x14():
    spec = ModelSpec(kind="autoencoder", encoder=(Layer(16, "linear"),), decoder=parse_layers("64, convt:4:5", "d"))
    assert [one.describe() for one in spec.layer_shapes()][-3:] == [
        "784 relu: 64 -> 784",
        "convt 4 5x5 relu: 14x14x4 -> 28x28x4",
        "conv 1 3x3 linear: 28x28x4 -> 28x28x1",
    ]


# ----- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "stacks", "field", "words"),
    [
        ("mlp", {"hidden": "64, conv:8"}, "hidden[1]", "a Dense layer before it has flattened the image into 64"),
        ("mlp", {"hidden": "conv:8, maxpool, maxpool, maxpool, maxpool, maxpool"}, "hidden[5]", "already 1x1x8"),
        ("mlp", {"hidden": "maxpool, maxpool, maxpool, conv:8:5"}, "hidden[3].kernel", "larger than the 3x3 image"),
        ("mlp", {"hidden": "conv:0"}, "hidden[0].features", "channels of hidden layer 1"),
        ("mlp", {"hidden": "conv:8:0"}, "hidden[0].kernel", "kernel size of hidden layer 1"),
        ("mlp", {"hidden": "convt:8, 16"}, "hidden[0]", "belongs in an autoencoder's decoder"),
        ("autoencoder", {"encoder": "convt:8, 16"}, "encoder[0]", "not in a classifier or an encoder"),
        ("autoencoder", {"encoder": "16", "decoder": "convt:8, convt:8, convt:8"}, "decoder[0]", "(3.5x3.5)"),
        ("autoencoder", {"encoder": "16", "decoder": "convt:8, 64"}, "decoder[1]", "flatten the image again"),
        ("autoencoder", {"encoder": "16", "decoder": "maxpool, convt:8"}, "decoder[0]", "first image layer"),
        ("autoencoder", {"encoder": "conv:8, 16", "decoder": "conv:8:29"}, "decoder[0].kernel", "and 28, got 29"),
    ],
)
def test_impossible_stacks_are_refused_naming_the_item(kind, stacks, field, words):
    with pytest.raises(SpecError) as info:
        ModelSpec(kind=kind, **{name: parse_layers(text, name) for name, text in stacks.items()})
    assert info.value.field == field, info.value
    assert words in str(info.value)


def test_a_json_or_link_with_an_impossible_stack_is_refused():
    bad = {"kind": "mlp", "hidden": [{"width": 64}, {"type": "conv", "features": 8}]}
    with pytest.raises(SpecError, match=r"hidden\[1\].*flattened the image"):
        ModelSpec.from_json(json.dumps(bad))
    with pytest.raises(links.LinkError, match="flattened the image"):
        links.from_query({"model": "mlp", "layers": "64.relu-conv.8.3.relu"})


# ----- text forms ------------------------------------------------------------------------------------


def test_items_json_and_links_round_trip_every_image_layer():
    layers = parse_layers("conv:32, conv:16:5, conv:8:3:gelu, maxpool, avgpool", "hidden")
    assert layers == (Conv(32, 3, "relu"), Conv(16, 5, "relu"), Conv(8, 3, "gelu"), MaxPool(), AvgPool())
    assert layers_text(layers) == "conv:32, conv:16:5, conv:8:3:gelu, maxpool, avgpool"
    decoder = parse_layers("convt:32:3:tanh, convt:8", "decoder")
    assert decoder == (ConvTranspose(32, 3, "tanh"), ConvTranspose(8, 3, "relu"))
    for layer in (*layers, *decoder):
        assert layer_from_link(layer.link_item()).validated("layers[0]", "layer 1") == layer  # as ModelSpec does
        assert LAYER_KINDS[layer.name].from_dict(json.loads(json.dumps(layer.to_dict()))) == layer
    spec = ModelSpec(kind="autoencoder", encoder=(*layers[:1], *layers[3:], Layer(8, "linear")), decoder=decoder)
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert links.from_query(links.to_query(spec, TrainConfig(), "sample")).spec == spec
    assert ModelSpec.from_json(FLAX_EXAMPLE.to_json()) == FLAX_EXAMPLE


# ----- costs -------------------------------------------------------------------------------------------


def test_conv_costs_by_hand():
    spec = ModelSpec(kind="mlp", hidden=parse_layers("conv:4:3, maxpool, avgpool, batchnorm, 8:linear", "hidden"))
    # conv 3x3 1->4 at 28x28: along each axis 28 positions x 3 taps, less the 2 taps on the zeros of the
    # SAME padding (one at each border): 82 x 82 multiply-adds per channel pair, 2 operations each; bias, relu
    conv = 2 * 82 * 82 * 1 * 4 + 28 * 28 * 4 + 28 * 28 * 4
    maxpool = 3 * 14 * 14 * 4  # 3 comparisons per output value
    avgpool = 4 * 7 * 7 * 4  # 3 additions and a division per output value
    batchnorm = 4 * 7 * 7 * 4  # evaluation: 4 per value, per-channel statistics
    dense = 2 * 196 * 8 + 8  # linear: no activation
    output = 2 * 8 * 10 + 10
    assert costs.forward_flops(spec) == conv + maxpool + avgpool + batchnorm + dense + output == 67_298
    weights = (2 * 82 * 82 * 4 + 28 * 28 * 4) + (2 * 196 * 8 + 8) + (2 * 8 * 10 + 10)  # weight and bias gradients
    below = 2 * 196 * 8 + 2 * 8 * 10  # nothing flows below the conv, the first layer with weights
    elementwise = 3 * (maxpool + avgpool + 7 * 7 * 7 * 4)  # BatchNorm: 7 per value while training
    assert costs.train_flops(spec) == conv + dense + output + weights + below + elementwise == 140_440
    assert spec.parameter_count == (9 + 1) * 4 + 2 * 4 + (196 + 1) * 8 + (8 + 1) * 10 == 1_714
    assert spec.batch_stats_count == 8
    ae = ModelSpec(kind="autoencoder", encoder=(Layer(2, "linear"),), decoder=parse_layers("convt:3:3", "decoder"))
    projection = 2 * 2 * 588 + 588 + 588  # code 2 -> 14x14x3, relu
    # each of the 14 inputs along an axis spreads over 3 outputs of 28, but the last one's first tap falls
    # outside (jax's SAME padding puts 2 zeros before): 13 * 3 + 2 = 41 taps per axis
    convt = 2 * 41 * 41 * 3 * 3 + 28 * 28 * 3 + 28 * 28 * 3
    last = 2 * 82 * 82 * 3 * 1 + 28 * 28 + 28 * 28  # 1-channel conv, then the sigmoid per pixel
    assert costs.forward_flops(ae) == 2 * 784 * 2 + 2 + projection + convt + last == 83_540


def test_conv_flops_agree_with_xla_cost_analysis():
    """Our count of the example CNN's forward pass against XLA's for the compiled program: the same,
    to the operation (XLA counts only the kernel taps on real pixels too, a relu and an average-pool
    operation as one each; it counts sigmoid and tanh differently, so the example has neither)."""
    model, variables = models.build_model(FLAX_EXAMPLE), models.init_variables(FLAX_EXAMPLE)
    x = jnp.ones((1, 28, 28, 1))
    analysis = jax.jit(model.apply).lower(variables, x).compile().cost_analysis()
    analysis = analysis[0] if isinstance(analysis, list) else analysis
    assert costs.forward_flops(FLAX_EXAMPLE) == analysis["flops"] == 8_708_106


def test_parameter_diff_lists_conv_layers_by_their_flax_names():
    smaller = FLAX_EXAMPLE.with_layers(parse_layers("conv:16,avgpool,conv:64,avgpool,256", "hidden"))
    rows = {row.path: (row.before, row.after) for row in costs.parameter_diff(FLAX_EXAMPLE, smaller)}
    assert rows["Conv_0"] == (320, 160) and rows["Conv_1"] == (18_496, (9 * 16 + 1) * 64)
    assert rows["Dense_0"] == (803_072, 803_072)


# ----- the command line and uploaded checkpoints -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--layers", "64,conv:8"), "hidden[1]: a convolution needs an image"),
        (("--layers", "conv:0"), "--layers: 'conv:0': channels of --layers layer 1 must be between 1 and"),
        (("--model", "autoencoder", "--encoder", "convt:8,16"), "encoder[0]: ConvTranspose grows an image"),
        (("--model", "autoencoder", "--decoder", "convt:8,convt:8,convt:8"), "decoder[0]: the decoder's image"),
    ],
)
def test_cli_refuses_impossible_conv_stacks_in_one_line_with_exit_2(capsys, args, words):
    from core.cli import main

    try:
        code = main(["train", *args, "--epochs", "1", "--quiet"])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == 2 and not out
    assert len(err.strip().splitlines()) == 1 and words in err, err


def test_an_uploaded_checkpoint_with_an_impossible_stack_is_refused(small):
    from flax import serialization

    from core.runs import checkpoint
    from core.training import train

    spec = ModelSpec(kind="mlp", hidden=parse_layers("conv:2, maxpool, 8", "hidden"))
    result = train(spec, TrainConfig(batch_size=64, epochs=1, augment=False), small)
    loaded = checkpoint.from_bytes(checkpoint.to_bytes(result))
    assert loaded.spec == spec and loaded.params["Conv_0"]["kernel"].shape == (3, 3, 1, 2)
    payload = serialization.msgpack_restore(checkpoint.to_bytes(result))
    data = json.loads(payload["spec"])
    data["hidden"] = [{"width": 8}, {"type": "conv", "features": 2}]
    payload["spec"] = json.dumps(data)
    with pytest.raises(checkpoint.CheckpointError, match=r"invalid model.*hidden\[1\]: a convolution needs an image"):
        checkpoint.from_bytes(serialization.msgpack_serialize(payload))


# ----- training: the sweep, the command line, Continue ----------------------------------------------


def test_a_sweep_scales_a_conv_layer_s_channels_as_its_width():
    from core.training.sweep import SweepPlan, scalable_layers, spec_with_width

    assert scalable_layers(FLAX_EXAMPLE) == (0, 2, 4)  # the two convs and the Dense layer, not the pools
    assert spec_with_width(FLAX_EXAMPLE, 0, 8).hidden[0] == Conv(8, 3, "relu")
    halved = spec_with_width(FLAX_EXAMPLE, "all", 128)  # the widest (256) becomes 128: every width halves
    assert [layer.units() for layer in halved.hidden] == [16, None, 32, None, 128]
    plan = SweepPlan(FLAX_EXAMPLE, 2, (8, 16))
    assert plan.specs[0].parameter_count == 320 + (9 * 32 + 1) * 8 + (7 * 7 * 8 + 1) * 256 + 2_570
    assert "layer 3 of 5 (64 units)" in plan.describe()
    with pytest.raises(Exception, match="layer 1 is avgpool, which has no width"):
        SweepPlan(FLAX_EXAMPLE, 1, (8, 16))


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    from core.cli import main

    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_trains_and_saves_a_conv_classifier_and_a_conv_autoencoder(capsys, tmp_path):
    from core.runs import checkpoint

    common = ("--epochs", "1", "--train-fraction", "0.25", "--no-augment", "--quiet")
    code, out, err = _cli(capsys, "train", "--layers", "conv:8,batchnorm,maxpool,dropout:0.1,32",
                          "--save", str(tmp_path / "cnn.msgpack"), *common)  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["model"] == "MLP 784-conv8-batchnorm-maxpool-dropout 0.1-32-10" and result["status"] == "finished"
    assert result["params"] == 80 + 16 + (14 * 14 * 8 + 1) * 32 + 330 == 50_634
    assert result["test_accuracy"] > 0.5  # one epoch of 1,125 digits; chance is 10%
    saved = checkpoint.load(tmp_path / "cnn.msgpack")
    assert saved.batch_stats["BatchNorm_0"]["mean"].shape == (8,)
    code, out, err = _cli(capsys, "train", "--model", "autoencoder", "--encoder", "conv:8,maxpool,16",
                          "--decoder", "convt:8", "--save", str(tmp_path / "ae.msgpack"), *common)  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["model"] == "AutoEncoder 784-conv8-maxpool-[16]-convt8-784" and result["status"] == "finished"
    # 17 steps: it has moved off its start, a grey 0.5 everywhere (about 0.22 on these digits)
    assert result["test_mse"] < 0.2
    assert checkpoint.load(tmp_path / "ae.msgpack").params["decoder"]["Conv_0"]["kernel"].shape == (3, 3, 8, 1)


def test_a_conv_model_resumes_exactly_and_trains_on_two_devices_alike(small):
    from core.training import train

    spec = ModelSpec(kind="mlp", hidden=parse_layers("conv:4, batchnorm, avgpool, dropout:0.2, 16", "hidden"))
    config = TrainConfig(batch_size=64, epochs=2, seed=3, augment=False)
    whole = train(spec, config, small)
    first = train(spec, config.with_epochs(1), small)
    resumed = train(spec, config, small, resume=first)
    assert resumed.history.step_losses == whole.history.step_losses
    np.testing.assert_allclose(resumed.params["Conv_0"]["kernel"], whole.params["Conv_0"]["kernel"], atol=1e-6)
    assert whole.test_metrics["accuracy"] > 0.3


DATA_PARALLEL = """
import json, jax, numpy as np
from core.data import load_dataset, make_dataset
from core.layer_items import parse_layers
from core.spec import ModelSpec
from core.training import TrainConfig, train
sample = load_dataset("sample")
data = make_dataset("part", "first 1,024 / 200", sample.class_names, (sample.train_images[:1024],
    sample.train_labels[:1024]), (sample.test_images[:200], sample.test_labels[:200]))
spec = ModelSpec(kind="mlp", hidden=parse_layers("conv:4, batchnorm, avgpool, 16", "hidden"))
result = train(spec, TrainConfig(epochs=1, batch_size=64, augment=False), data)
print(json.dumps({"devices": result.extra["devices"], "split": result.extra["split"],
    "losses": result.history.step_losses, "kernel": np.asarray(result.params["Conv_0"]["kernel"]).ravel().tolist()}))
"""


@pytest.mark.slow
def test_two_devices_split_each_batch_of_a_conv_model_and_match_one_device():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]

    def run(devices: int) -> dict:
        env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(root), "FLAX_DASHBOARD_JAX_CACHE": "off"}
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
        proc = subprocess.run([sys.executable, "-c", DATA_PARALLEL], capture_output=True, text=True, env=env,
                              cwd=root, timeout=600)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    one, two = run(1), run(2)
    assert (one["devices"], two["devices"], two["split"]) == (1, 2, "batch")
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-5)
    np.testing.assert_allclose(two["kernel"], one["kernel"], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kernel", [3, 4, 5])
def test_the_conv_gradients_written_as_nhwc_convolutions_equal_jax_s_own(kernel):
    """``flax_layers.same_conv_nhwc`` gives ``lax.conv_general_dilated``'s values and gradients (odd and even
    kernels: SAME pads an even one unevenly); XLA's CPU backend runs them ~20x faster in a while loop."""
    from core.flax_layers import NHWC, same_conv_nhwc

    keys = jax.random.split(jax.random.key(kernel), 3)
    x, w = jax.random.normal(keys[0], (4, 9, 9, 3)), jax.random.normal(keys[1], (kernel, kernel, 3, 5))
    weights = jax.random.normal(keys[2], (4, 9, 9, 5))

    def reference(x, w):
        return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=NHWC)

    np.testing.assert_allclose(same_conv_nhwc(x, w), reference(x, w), rtol=1e-5, atol=1e-5)
    ours = jax.grad(lambda x, w: jnp.sum(same_conv_nhwc(x, w) * weights), argnums=(0, 1))(x, w)
    theirs = jax.grad(lambda x, w: jnp.sum(reference(x, w) * weights), argnums=(0, 1))(x, w)
    for got, want in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
