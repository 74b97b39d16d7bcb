import pytest

from core.links import LinkError, from_query, to_query
from core.spec import ModelSpec
from core.training import TrainConfig


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
