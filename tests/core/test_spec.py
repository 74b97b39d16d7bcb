import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import SpecError
from core.spec import ACTIVATIONS, MAX_WIDTH, PRESETS, Layer, ModelSpec


def test_default_mlp_parameter_count_is_exact():
    spec = ModelSpec.mlp((512, 256))
    # (784+1)*512 + (512+1)*256 + (256+1)*10
    assert spec.parameter_count == 401_920 + 131_328 + 2_570 == 535_818
    assert spec.describe() == "MLP 784-512-256-10"
    assert spec.layer_sizes == (784, 512, 256, 10)


def test_autoencoder_layout_and_count():
    spec = ModelSpec.autoencoder((256, 64, 16), (64, 256))
    assert spec.code_size == 16
    assert spec.encoder[-1].activation == "linear"
    assert spec.layer_sizes == (784, 256, 64, 16, 64, 256, 784)
    expected = 785 * 256 + 257 * 64 + 65 * 16 + 17 * 64 + 65 * 256 + 257 * 784
    assert spec.parameter_count == expected == 437_664
    assert spec.describe() == "AutoEncoder 784-256-64-[16]-64-256-784"


@pytest.mark.parametrize(
    ("build", "field", "words"),
    [
        (lambda: ModelSpec.mlp((0,)), "hidden[0].width", "between 1 and 4,096, got 0"),
        (lambda: ModelSpec.mlp((64, -3)), "hidden[1].width", "got -3"),
        (lambda: ModelSpec.mlp((3.5,)), "hidden[0].width", "whole number"),
        (lambda: ModelSpec.mlp(("abc",)), "hidden[0].width", "whole number"),
        (lambda: ModelSpec.mlp((MAX_WIDTH + 1,)), "hidden[0].width", "4,097"),
        (lambda: ModelSpec.mlp((1e9,)), "hidden[0].width", "1,000,000,000"),
        (lambda: ModelSpec.mlp(()), "hidden", "at least one layer"),
        (lambda: ModelSpec.mlp(""), "hidden", "at least one layer"),
        (lambda: ModelSpec.mlp([8] * 50), "hidden", "at most 16 layers"),
        (lambda: ModelSpec.mlp((64,), activation="softmaxx"), "hidden[0].activation", "unknown activation"),
        (lambda: ModelSpec.autoencoder((1000,), ()), "encoder[0].width", "wider than the input"),
        (lambda: ModelSpec.autoencoder((), (64,)), "encoder", "at least one layer"),
        (lambda: ModelSpec(kind="cnn", hidden=(Layer(8),)), "kind", "mlp, autoencoder"),
        (lambda: ModelSpec.mlp((64,), seed=-1), "seed", "between 0"),
        (lambda: ModelSpec.mlp((4096, 4096, 4096)), "layers", "parameters"),
        (lambda: ModelSpec(kind="mlp", hidden=(Layer(8),), encoder=(Layer(8),)), "encoder", "no encoder"),
    ],
)
def test_invalid_specs_name_the_field(build, field, words):
    with pytest.raises(SpecError) as info:
        build()
    assert info.value.field == field
    assert words in str(info.value)


def test_integral_float_and_numeric_string_widths_are_accepted():
    assert ModelSpec.mlp((64.0, "32")).hidden == (Layer(64), Layer(32))
    assert ModelSpec.mlp("128, 64").hidden == (Layer(128), Layer(64))


@pytest.mark.parametrize("spec", [ModelSpec.mlp((12, 8, 4), "tanh", seed=7), ModelSpec.autoencoder()])
def test_json_round_trip(spec):
    text = spec.to_json()
    assert json.loads(text)["kind"] == spec.kind
    assert ModelSpec.from_json(text) == spec


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("not json", "spec"),
        ("[1, 2]", "spec"),
        ('{"kind": "mlp", "hidden": [{"width": 8}], "evil": 1}', "evil"),
        ('{"kind": "mlp", "hidden": [8]}', "hidden[0]"),
        ('{"kind": "mlp", "hidden": [{"width": 8, "activation": "nope"}]}', "hidden[0].activation"),
        ('{"kind": "mlp", "hidden": [{"width": 8}], "input_shape": [32, 32, 3]}', "input_shape"),
    ],
)
def test_bad_json_raises_spec_error(text, field):
    with pytest.raises(SpecError) as info:
        ModelSpec.from_json(text)
    assert info.value.field == field


def test_presets_are_valid_and_distinct():
    specs = [spec for _, spec in PRESETS.values()]
    assert len(set(specs)) == len(specs)
    tiny = PRESETS["Tiny autoencoder (flax intro 20-10-5)"][1]
    assert [layer.width for layer in tiny.encoder] == [20, 10, 5]
    assert [layer.width for layer in tiny.decoder] == [5, 10, 20]


widths = st.one_of(
    st.integers(-10, 5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["mlp", "autoencoder", "x"]),
    first=st.lists(widths, max_size=20),
    second=st.lists(widths, max_size=4),
    activation=st.sampled_from([*ACTIVATIONS, "bogus", ""]),
    seed=st.one_of(st.integers(-5, 2**32), st.floats()),
)
def test_any_input_gives_a_valid_spec_or_spec_error(kind, first, second, activation, seed):
    try:
        if kind == "mlp":
            spec = ModelSpec.mlp(first, activation, seed=seed)
        elif kind == "autoencoder":
            spec = ModelSpec.autoencoder(first, second, activation, seed=seed)
        else:
            spec = ModelSpec(kind=kind)
    except SpecError:
        return
    assert all(1 <= layer.width <= MAX_WIDTH for layer in spec.layers)
    assert ModelSpec.from_json(spec.to_json()) == spec
