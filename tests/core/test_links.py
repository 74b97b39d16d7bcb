import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.errors import SpecError
from core.layer_items import MAX_LAYERS
from core.links import SHAREABLE_DATA, LinkError, from_query, to_query
from core.spec import ACTIVATIONS, MAX_SEED, MAX_WIDTH, MIN_WIDTH, Layer, ModelSpec
from core.tasks import RECONSTRUCTION_LOSSES
from core.training import MAX_BATCH_SIZE, MAX_EPOCHS, OPTIMIZERS, TrainConfig


@pytest.mark.parametrize(
    ("spec", "config", "dataset"),
    [
        (ModelSpec.mlp((512, 256)), TrainConfig(), "sample"),
        (
            ModelSpec.mlp((12, 8, 4), "tanh", seed=9),
            TrainConfig(optimizer="sgd", learning_rate=0.05, epochs=3),
            "mnist",
        ),
        (
            ModelSpec.autoencoder((256, 64, 2), (64, 256)),
            TrainConfig(reconstruction_loss="bce", augment=False),
            "fashion_mnist",
        ),
    ],
)
def test_round_trip(spec, config, dataset):
    query = to_query(spec, config, dataset)
    assert all(isinstance(v, str) for v in query.values())
    settings = from_query(query)
    assert settings.spec == spec and settings.config == config and settings.dataset == dataset


def test_the_link_is_readable():
    query = to_query(ModelSpec.mlp((512, 256)), TrainConfig(), "sample")
    assert query["layers"] == "512.relu-256.relu" and query["lr"] == "0.001" and query["data"] == "sample"


def test_local_folders_are_not_put_in_links():
    assert "data" not in to_query(ModelSpec.mlp(), TrainConfig(), "idx:/home/me/digits")


def test_no_settings_in_the_link():
    assert from_query({}) is None
    assert from_query({"utm_source": "mail"}) is None


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"model": "cnn"}, "model must be mlp or ae"),
        ({"layers": "0.relu"}, "between 1 and 4,096, got 0"),
        ({"layers": "abc"}, "whole number"),
        ({"layers": "64.softmaxx"}, "unknown activation"),
        ({"layers": ""}, "at least one layer"),
        ({"model": "ae", "enc": "1000.linear"}, "wider than the input"),
        ({"layers": "64.relu", "lr": "-1"}, "learning rate must be above 0"),
        ({"layers": "64.relu", "ep": "1e9"}, "number of epochs"),
        ({"layers": "64.relu", "data": "idx:/etc"}, "data must be one of"),
        ({"layers": "-".join(["8.relu"] * 80)}, "too many layers"),
    ],
)
def test_bad_links_say_what_is_wrong(query, words):
    with pytest.raises(LinkError, match=words):
        from_query(query)


# ----- every field of a link survives the round trip ---------------------------------------

activations = st.sampled_from(sorted(ACTIVATIONS))
# mostly narrow layers so that most stacks stay under the parameter limit, sometimes up to the widest
layers = st.builds(Layer, st.integers(MIN_WIDTH, 64) | st.integers(MIN_WIDTH, MAX_WIDTH), activations)


def stacks(min_size: int, max_size: int = MAX_LAYERS):
    return st.lists(layers, min_size=min_size, max_size=max_size).map(tuple)


@st.composite
def model_specs(draw) -> ModelSpec:
    seed = draw(st.integers(0, MAX_SEED))
    try:
        if draw(st.booleans()):
            return ModelSpec(kind="mlp", hidden=draw(stacks(1)), seed=seed)
        # the code (the last encoder layer) may be at most as wide as the 784-pixel input
        code = draw(st.builds(Layer, st.integers(MIN_WIDTH, 784), activations))
        encoder = (*draw(stacks(0, MAX_LAYERS - 1)), code)
        return ModelSpec(kind="autoencoder", encoder=encoder, decoder=draw(stacks(0)), seed=seed)
    except SpecError as err:
        assume(err.field != "layers")  # over the parameter limit: not a model a link can describe
        raise


# learning rates with at most 6 significant digits: exactly what f"{lr:g}" keeps
learning_rates = st.builds(lambda digits, exponent: float(f"{digits}e{exponent}"), st.integers(1, 999_999),
                           st.integers(-12, 0))  # fmt: skip


@st.composite
def configs(draw, kind: str) -> TrainConfig:
    optimizer = draw(st.sampled_from(sorted(OPTIMIZERS)))
    six_digits = st.builds(lambda digits: digits / 1_000_000, st.integers(0, 999_999))
    return TrainConfig(
        optimizer=optimizer,
        learning_rate=draw(learning_rates),
        # a link carries the momentum of sgd and the weight decay of adamw; other optimizers use neither
        momentum=draw(six_digits) if optimizer == "sgd" else TrainConfig.momentum,
        weight_decay=draw(six_digits) if optimizer == "adamw" else TrainConfig.weight_decay,
        batch_size=draw(st.integers(1, MAX_BATCH_SIZE)),
        epochs=draw(st.integers(1, MAX_EPOCHS)),
        seed=draw(st.integers(0, MAX_SEED)),
        augment=draw(st.booleans()),
        # an MLP has no reconstruction loss: its link carries none and it comes back as the default
        reconstruction_loss=draw(st.sampled_from(sorted(RECONSTRUCTION_LOSSES))) if kind == "autoencoder" else "mse",
        l2=draw(six_digits),
        noise=draw(six_digits),
        train_fraction=draw(st.builds(lambda digits: digits / 1_000_000, st.integers(1, 1_000_000))),
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_field_of_a_link_survives_the_round_trip(data):
    spec = data.draw(model_specs())
    config = data.draw(configs(spec.kind))
    dataset = data.draw(st.sampled_from(SHAREABLE_DATA))
    query = to_query(spec, config, dataset)
    assert all(isinstance(v, str) for v in query.values())
    back = from_query(query)
    assert back.spec.kind == spec.kind
    assert back.spec.hidden == spec.hidden
    assert back.spec.encoder == spec.encoder
    assert back.spec.decoder == spec.decoder
    assert back.spec.seed == spec.seed
    assert back.config.optimizer == config.optimizer
    assert back.config.learning_rate == config.learning_rate
    assert back.config.momentum == config.momentum
    assert back.config.weight_decay == config.weight_decay
    assert back.config.batch_size == config.batch_size
    assert back.config.epochs == config.epochs
    assert back.config.seed == config.seed
    assert back.config.augment is config.augment
    assert back.config.reconstruction_loss == config.reconstruction_loss
    assert (back.config.l2, back.config.noise) == (config.l2, config.noise)
    assert back.config.train_fraction == config.train_fraction
    assert back.dataset == dataset
    assert back.spec == spec and back.config == config


@pytest.mark.parametrize(
    ("learning_rate", "in_link", "back"),
    [
        (0.00123456789, "0.00123457", 0.00123457),  # six significant digits, rounded half up
        (1 / 3, "0.333333", 0.333333),
        (2.5e-7, "2.5e-07", 2.5e-7),
        (123456.7, "123457", 123457.0),
    ],
)
def test_a_link_keeps_six_significant_digits_of_the_learning_rate(learning_rate, in_link, back):
    query = to_query(ModelSpec.mlp((8,)), TrainConfig(learning_rate=learning_rate), "sample")
    assert query["lr"] == in_link
    assert from_query(query).config.learning_rate == back


def test_a_link_without_training_settings_gives_the_default_ones():
    settings_ = from_query({"layers": "8.tanh"})
    assert settings_.spec == ModelSpec.mlp((8,), "tanh") and settings_.dataset is None
    assert settings_.config == TrainConfig()
    assert settings_.config.augment is True  # aug is on unless the link says aug=0


@pytest.mark.parametrize(
    ("query", "spec", "config"),
    [
        ({"lr": "0.01"}, ModelSpec.mlp(), TrainConfig(learning_rate=0.01)),
        ({"data": "mnist"}, ModelSpec.mlp(), TrainConfig()),
        ({"model": "ae"}, ModelSpec.autoencoder(), TrainConfig()),
        ({"model": "ae", "enc": "32.relu-2.linear"}, ModelSpec.autoencoder((32, 2)), TrainConfig()),
    ],
)
def test_a_link_with_few_settings_takes_defaults_for_the_rest(query, spec, config):
    settings = from_query(query)
    assert settings.spec == spec and settings.config == config
    assert settings.dataset == query.get("data")


def test_the_overfitting_lab_travels_in_links_and_old_links_mean_what_they_meant():
    config = TrainConfig(l2=1e-4, noise=0.2, train_fraction=0.05)
    query = to_query(ModelSpec.mlp(), config, "sample")
    assert (query["l2"], query["noise"], query["frac"]) == ("0.0001", "0.2", "0.05")
    assert from_query(query).config == config
    plain = to_query(ModelSpec.mlp(), TrainConfig(), "sample")
    assert not {"l2", "noise", "frac"} & set(plain)  # a link of the defaults is what it was before
    old = {"model": "mlp", "layers": "512.relu-256.relu", "seed": "0", "opt": "adam", "lr": "0.001", "bs": "128",
           "ep": "10", "tseed": "0", "aug": "1", "data": "sample"}  # fmt: skip
    assert from_query(old).config == TrainConfig()
    with pytest.raises(LinkError, match="training fraction must be above 0"):
        from_query({"frac": "0"})


def test_a_huge_value_is_refused_without_echoing_it():
    with pytest.raises(LinkError, match="50,000 characters long") as caught:
        from_query({"layers": "7" * 50_000})
    assert len(str(caught.value)) < 100
