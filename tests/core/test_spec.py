import itertools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import links
from core.errors import SpecError
from core.layer_items import MAX_LAYERS
from core.presets import PRESETS
from core.spec import (
    ACTIVATIONS,
    MAX_PARAMETERS,
    MAX_SEED,
    MAX_WIDTH,
    MODEL_KINDS,
    AutoEncoderSpec,
    Layer,
    MLPSpec,
    ModelSpec,
)
from core.training import TrainConfig
from testkit.support import is_number_text


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
    given_widths = first + second if kind == "autoencoder" else first if kind == "mlp" else []
    assert not any(isinstance(w, bool) or w is None for w in given_widths)  # True is no width of 1
    assert [layer.width for layer in spec.layers] == [int(float(w)) for w in given_widths]
    assert ModelSpec.from_json(spec.to_json()) == spec


# ----- refusal, naming the field -----------------------------------------------------------

HUGE = 10**30


good_widths = st.lists(st.integers(1, 64), max_size=MAX_LAYERS - 1)
not_whole_numbers = st.one_of(
    st.booleans(),  # True is an int to Python, never a width of 1
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != int(x)),
    st.sampled_from([1.5, math.nan, math.inf, -math.inf, "abc", "1.5", "nan", "inf", ""]),
    st.text(max_size=6).filter(lambda t: not is_number_text(t)),
)
bad_widths = not_whole_numbers | st.integers(-HUGE, 0) | st.integers(MAX_WIDTH + 1, HUGE)


def _refused(build) -> SpecError:
    with pytest.raises(SpecError) as info:
        build()
    return info.value


def _json_layers(widths, activations=None) -> list[dict]:
    activations = activations or ["relu"] * len(widths)
    return [{"width": w, "activation": a} for w, a in zip(widths, activations, strict=True)]


ROUTES = ["mlp", "autoencoder", "constructor", "from_dict", "from_json"]


def _build(route: str, stack: str, widths: list, activations: list | None = None):
    """A spec whose ``stack`` ("hidden", "encoder" or "decoder") has these widths, built one way."""
    if route == "mlp":
        return lambda: ModelSpec.mlp(widths, activations[0] if activations else "relu")
    if route == "autoencoder":
        encoder, decoder = (widths, [8]) if stack == "encoder" else ([16], widths)
        return lambda: ModelSpec.autoencoder(encoder, decoder, activations[0] if activations else "relu")
    kind = "mlp" if stack == "hidden" else "autoencoder"
    other = {} if kind == "mlp" else {"decoder" if stack == "encoder" else "encoder": _json_layers([16])}
    data = {"kind": kind, stack: _json_layers(widths, activations), **other}
    if route == "constructor":
        layers = {name: tuple(Layer(item["width"], item["activation"]) for item in items)
                  for name, items in data.items() if name != "kind"}  # fmt: skip
        return lambda: ModelSpec(kind=kind, **layers)
    if route == "from_dict":
        return lambda: ModelSpec.from_dict(data)
    return lambda: ModelSpec.from_json(json.dumps(data))


@pytest.mark.parametrize(("route", "stack"), [
    ("mlp", "hidden"), ("autoencoder", "encoder"), ("autoencoder", "decoder"), ("constructor", "hidden"),
    ("constructor", "decoder"), ("from_dict", "hidden"), ("from_dict", "encoder"), ("from_json", "hidden"),
])  # fmt: skip
@settings(max_examples=80, deadline=None)
@given(widths=good_widths, bad=bad_widths, data=st.data())
def test_a_bad_width_is_refused_naming_its_layer(route, stack, widths, bad, data):
    at = data.draw(st.integers(0, len(widths)))
    widths = [*widths[:at], bad, *widths[at:]]
    err = _refused(_build(route, stack, widths))
    assert err.field == f"{stack}[{at}].width"
    assert err.reason.startswith(f"width of {stack} layer {at + 1} must be")


@pytest.mark.parametrize("bad", [True, False, 0, -1, MAX_WIDTH + 1, 1.5, "abc", None, math.nan, math.inf])
@pytest.mark.parametrize("route", ROUTES)
def test_each_kind_of_bad_width_is_refused_every_way_a_spec_is_made(route, bad):
    err = _refused(_build(route, "hidden" if route != "autoencoder" else "encoder", [32, bad]))
    assert err.field.endswith("[1].width")
    in_range = "between 1 and 4,096" in err.reason
    assert in_range == (bad in (0, -1, MAX_WIDTH + 1) and not isinstance(bad, bool)), err.reason


unknown_activations = st.text(max_size=10).filter(lambda a: a not in ACTIVATIONS) | st.none() | st.integers()


@pytest.mark.parametrize("route", ["constructor", "from_dict", "from_json"])
@settings(max_examples=60, deadline=None)
@given(widths=good_widths, bad=unknown_activations, data=st.data())
def test_an_unknown_activation_is_refused_naming_its_layer(route, widths, bad, data):
    at = data.draw(st.integers(0, len(widths)))
    widths = [*widths[:at], 8, *widths[at:]]
    activations = ["tanh"] * len(widths)
    activations[at] = bad
    err = _refused(_build(route, "hidden", widths, activations))
    assert err.field == f"hidden[{at}].activation"
    assert err.reason.startswith(f"unknown activation {bad!r}; choose one of relu, gelu")


@pytest.mark.parametrize("route", ["mlp", "autoencoder"])
@settings(max_examples=30, deadline=None)
@given(bad=unknown_activations)
def test_an_unknown_activation_for_every_layer_is_refused_at_the_first(route, bad):
    err = _refused(_build(route, "hidden" if route == "mlp" else "encoder", [32, 8], [bad]))
    assert err.field == ("hidden" if route == "mlp" else "encoder") + "[0].activation"


@pytest.mark.parametrize(("route", "stack"), [
    ("mlp", "hidden"), ("autoencoder", "encoder"), ("autoencoder", "decoder"), ("constructor", "hidden"),
    ("from_json", "decoder"),
])  # fmt: skip
@settings(max_examples=20, deadline=None)
@given(count=st.integers(MAX_LAYERS + 1, 40))
def test_more_than_16_layers_are_refused(route, stack, count):
    err = _refused(_build(route, stack, [4] * count))
    assert err.field == stack
    assert err.reason == f"at most 16 layers are allowed, got {count}"


# Wide layers of at least 3,500 units: (784+1)*3,500 + 3*(3,500+1)*3,500 > 39 million, over the 30 million limit.
wide = st.integers(3500, MAX_WIDTH)


@settings(max_examples=40, deadline=None)
@given(widths=st.lists(wide, min_size=4, max_size=MAX_LAYERS), route=st.sampled_from(["mlp", "from_dict"]))
def test_an_mlp_over_the_parameter_limit_is_refused_with_its_count(widths, route):
    sizes = [784, *widths, 10]
    expected = sum((fan_in + 1) * fan_out for fan_in, fan_out in itertools.pairwise(sizes))  # W and b of each Dense
    err = _refused(_build(route, "hidden", widths))
    assert err.field == "layers"
    assert err.reason.startswith(f"this model would have {expected:,} parameters, more than the limit of 30,000,000")
    assert expected > MAX_PARAMETERS


@settings(max_examples=20, deadline=None)
@given(
    encoder=st.lists(wide, min_size=3, max_size=3),
    code=st.integers(1, 784),
    decoder=st.lists(wide, min_size=2, max_size=2),
)
def test_an_autoencoder_over_the_parameter_limit_is_refused(encoder, code, decoder):
    err = _refused(lambda: ModelSpec.autoencoder([*encoder, code], decoder))
    assert err.field == "layers" and "more than the limit of 30,000,000" in err.reason


bad_seeds = not_whole_numbers | st.integers(-HUGE, -1) | st.integers(MAX_SEED + 1, HUGE)


@settings(max_examples=100, deadline=None)
@given(bad=bad_seeds, route=st.sampled_from(["mlp", "autoencoder", "constructor", "replace", "from_dict", "from_json"]))
def test_a_bad_seed_is_refused(bad, route):
    build = {
        "mlp": lambda: ModelSpec.mlp((8,), seed=bad),
        "autoencoder": lambda: ModelSpec.autoencoder((16,), (8,), seed=bad),
        "constructor": lambda: ModelSpec(kind="mlp", hidden=(Layer(8),), seed=bad),
        "replace": lambda: ModelSpec.mlp((8,)).replace(seed=bad),
        "from_dict": lambda: ModelSpec.from_dict({"kind": "mlp", "hidden": [{"width": 8}], "seed": bad}),
        "from_json": lambda: ModelSpec.from_json(json.dumps({"kind": "mlp", "hidden": [{"width": 8}], "seed": bad})),
    }[route]
    err = _refused(build)
    assert err.field == "seed" and err.reason.startswith("seed must be")


def test_each_kind_of_model_is_its_own_type_from_code_json_and_links():
    assert type(ModelSpec(kind="mlp", hidden=(Layer(8),))) is MLPSpec
    ae = ModelSpec.autoencoder((32, 4), (32,))
    assert type(ae) is AutoEncoderSpec and type(ModelSpec.from_json(ae.to_json())) is AutoEncoderSpec
    assert type(links.from_query(links.to_query(ae, TrainConfig(), "sample")).spec) is AutoEncoderSpec
    assert (ae.code_size, ae.code_index, ae.stacks) == (4, 1, ("encoder", "decoder"))
    assert type(ae.replace(kind="mlp", encoder=(), decoder=(), hidden=(Layer(8),))) is MLPSpec
    assert {name: kind.name for name, kind in MODEL_KINDS.items()} == {"mlp": "mlp", "autoencoder": "autoencoder"}
