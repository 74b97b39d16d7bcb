"""The live views of a training: answers, reconstructions, latent map and weight images from one set of parameters."""

from __future__ import annotations

import numpy as np

from core import inside, live, models, predict
from core.presets import PRESETS

MLP = PRESETS["MNIST classifier (default)"][1]
AUTOENCODER = PRESETS["MNIST autoencoder (default)"][1]


def test_a_classifiers_live_views_are_its_answers_and_first_layer_weights(sample):
    params = models.init_params(MLP)
    views = live.compute_live_views(MLP, params, sample)
    chances = predict.predict_probabilities(MLP, params, sample.test_images[: live.LIVE_IMAGES])
    np.testing.assert_array_equal(views.answers, chances.argmax(1))
    np.testing.assert_allclose(views.confidence, chances.max(1), rtol=1e-6)
    np.testing.assert_array_equal(views.labels, sample.test_labels[: live.LIVE_IMAGES])
    kernel = np.asarray(params["Dense_0"]["kernel"])
    np.testing.assert_allclose(views.weights, inside.weight_images(kernel, (28, 28), live.WEIGHT_UNITS))
    assert views.weights.shape == (16, 28, 28) and views.rebuilt is None and views.map_points is None


def test_an_autoencoders_live_views_are_its_reconstructions_and_latent_map(sample):
    params = models.init_params(AUTOENCODER)
    views = live.compute_live_views(AUTOENCODER, params, sample)
    np.testing.assert_allclose(views.rebuilt, predict.reconstruct(AUTOENCODER, params, sample.test_images[:8]))
    codes = predict.encode(AUTOENCODER, params, sample.test_images[: live.MAP_IMAGES])
    points, share = predict.project_2d(codes)
    np.testing.assert_allclose(views.map_points, points, rtol=1e-5, atol=1e-6)
    assert views.map_share == share and len(views.map_labels) == 500
    assert views.answers is None
