"""An MLP's output layer follows its dataset's classes: 26 outputs for EMNIST letters."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.dataset import LETTER_NAMES, make_dataset
from core.errors import ConfigError, SpecError
from core.predict import evaluate
from core.spec import ModelSpec
from core.training import TrainConfig, train


@pytest.fixture(scope="module")
def letters(sample):
    """The sample's digits as 20 of 26 'letter' classes: label d, or d + 10 for every other image."""

    def relabel(labels):
        return labels + 10 * (np.arange(len(labels)) % 2)

    return make_dataset("letters", "digits as letters", LETTER_NAMES,
                        (sample.train_images[:1024], relabel(sample.train_labels[:1024])),
                        (sample.test_images[:300], relabel(sample.test_labels[:300])))  # fmt: skip


def test_a_model_for_letters_has_26_outputs_everywhere(letters):
    spec = ModelSpec.mlp((32,)).for_classes(len(letters.class_names))
    assert spec.num_classes == 26 and spec.describe() == "MLP 784-32-26"
    assert spec.parameter_count == (784 + 1) * 32 + (32 + 1) * 26
    assert ModelSpec.from_json(spec.to_json()) == spec and spec.replace(seed=3).num_classes == 26
    result = train(spec, TrainConfig(epochs=2, batch_size=64), letters)
    assert result.params["Dense_1"]["kernel"].shape == (32, 26)
    evaluation = evaluate(spec, result.params, letters.test_images, letters.test_labels)
    assert evaluation.confusion.shape == (26, 26) and evaluation.confusion.sum() == 300
    # rows are the true classes: each holds that class's test images; no test image is a U to Z
    assert evaluation.confusion.sum(axis=1).tolist() == np.bincount(letters.test_labels, minlength=26).tolist()
    assert evaluation.metrics["accuracy"] == pytest.approx(np.trace(evaluation.confusion) / 300)
    assert result.test_metrics["accuracy"] == pytest.approx(evaluation.metrics["accuracy"], abs=1e-6)


def test_a_model_whose_outputs_do_not_match_the_classes_is_refused_with_what_to_do(letters):
    with pytest.raises(ConfigError, match="this model has 10 outputs but letters has 26 classes"):
        train(ModelSpec.mlp((32,)), TrainConfig(epochs=1, batch_size=64), letters)


def test_an_autoencoder_has_no_class_outputs_and_the_count_is_bounded():
    ae = ModelSpec.autoencoder((32, 2), (32,))
    assert ae.for_classes(26) is ae
    with pytest.raises(SpecError, match="number of classes"):
        ModelSpec.mlp((8,)).replace(num_classes=1)
    with pytest.raises(SpecError, match="number of classes"):
        ModelSpec.mlp((8,)).replace(num_classes=65)


def test_a_sweep_of_a_letters_model_has_26_outputs_at_every_width(letters):
    from core.training.sweep import SweepPlan, run_sweep

    plan = SweepPlan(ModelSpec.mlp((16,)), 0, "8,16", (0,), TrainConfig(epochs=1, batch_size=128))
    fitted = plan.for_classes(len(letters.class_names))
    assert [spec.num_classes for spec in fitted.specs] == [26, 26] and plan.for_classes(10) is plan
    runs = run_sweep(fitted, letters)
    assert [run.status for run in runs] == ["finished", "finished"]
    with pytest.raises(ConfigError, match="10 outputs but letters has 26 classes"):
        run_sweep(plan, letters)
