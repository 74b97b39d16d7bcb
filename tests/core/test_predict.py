"""Using a model: evaluation and baselines checked against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.predict import evaluate, mean_image_mse
from core.spec import ModelSpec

LOGIT = 2.0  # the score a hand-built model gives the class it picks; every other class scores 0


def pointing_mlp() -> tuple[ModelSpec, dict]:
    """An MLP 784-10-10 (linear) whose answer is known in advance: lighting pixel (0, k) gives
    logit LOGIT to class k and 0 to the others, so an image lit there is predicted as k."""
    spec = ModelSpec.mlp((10,), activation="linear")
    kernel = np.zeros((784, 10), np.float32)
    kernel[np.arange(10), np.arange(10)] = LOGIT  # pixel (0, k) is flat index k
    params = {
        "Dense_0": {"kernel": kernel, "bias": np.zeros(10, np.float32)},
        "Dense_1": {"kernel": np.eye(10, dtype=np.float32), "bias": np.zeros(10, np.float32)},
    }
    return spec, params


def images_predicted_as(classes: list[int]) -> np.ndarray:
    """uint8 (N, 28, 28, 1) images the pointing MLP predicts as ``classes``."""
    images = np.zeros((len(classes), 28, 28, 1), np.uint8)
    images[np.arange(len(classes)), 0, classes, 0] = 255
    return images


def test_evaluate_counts_confusion_by_true_row_and_predicted_column():
    spec, params = pointing_mlp()
    labels = np.array([2, 2, 2, 7, 7, 2, 5, 0])
    predicted = [7, 7, 7, 7, 7, 2, 3, 0]  # three 2s called 7, no 7 called 2
    result = evaluate(spec, params, images_predicted_as(predicted), labels)

    expected = np.zeros((10, 10), int)
    expected[2, 7] = 3
    expected[7, 7] = 2
    expected[2, 2] = 1
    expected[5, 3] = 1
    expected[0, 0] = 1
    np.testing.assert_array_equal(result.confusion, expected)
    assert result.n == 8
    assert result.accuracy == 4 / 8  # 7->7 twice, 2->2, 0->0
    # cross-entropy of logits (LOGIT at the predicted class, 0 at the 9 others) for label y:
    # log(e^LOGIT + 9) - logit[y]; the 4 right answers have logit[y] = LOGIT, the 4 wrong ones 0
    per_image_mean = math.log(math.exp(LOGIT) + 9) - 4 * LOGIT / 8
    assert result.loss == pytest.approx(per_image_mean, rel=1e-6)
    assert result.mse is None


def test_evaluate_ignores_the_padding_of_its_last_batch():
    """1,001 images are evaluated as two batches of 1,000: the 999 blank images (label 0) that
    fill the second one would be predicted 0 (all logits equal) if they counted."""
    spec, params = pointing_mlp()
    labels = np.array([4] * 1000 + [9])
    result = evaluate(spec, params, images_predicted_as([4] * 1000 + [1]), labels)
    expected = np.zeros((10, 10), int)
    expected[4, 4] = 1000
    expected[9, 1] = 1
    np.testing.assert_array_equal(result.confusion, expected)
    assert result.accuracy == 1000 / 1001
    right, wrong = math.log(math.exp(LOGIT) + 9) - LOGIT, math.log(math.exp(LOGIT) + 9)
    assert result.loss == pytest.approx((1000 * right + wrong) / 1001, rel=1e-5)


def test_mean_image_baseline_predicts_each_pixels_own_training_mean():
    # 2x2 uint8 images; /255 gives the values in the comments
    train = np.array([[[0, 255], [51, 102]], [[255, 255], [153, 0]]], np.uint8)[..., None]  # 0 1 .2 .4 | 1 1 .6 0
    test = np.array([[[0, 0], [102, 153]], [[255, 255], [51, 51]]], np.uint8)[..., None]  # 0 0 .4 .6 | 1 1 .2 .2
    # mean image: .5 1 .4 .2
    # errors: image 1: -.5 -1 0 .4 -> squares .25 1 0 .16 = 1.41; image 2: .5 0 -.2 0 -> .25 0 .04 0 = .29
    assert mean_image_mse(train, test) == pytest.approx((1.41 + 0.29) / 8, rel=1e-6)
