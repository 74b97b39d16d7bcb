"""The HTML report of a model with Dropout, BatchNorm and LayerNorm layers."""

import html

from components.report import run_report
from core.layer_items import parse_layers
from core.predict import evaluate
from core.spec import ModelSpec
from core.training import TrainConfig, train


def test_report_of_a_batch_norm_and_dropout_model(small):
    spec = ModelSpec(kind="mlp", hidden=parse_layers("32, batchnorm, dropout:0.25, layernorm", "hidden"))
    result = train(spec, TrainConfig(epochs=1, augment=False), small)
    text = run_report(result, small, "Layers")
    accuracy = evaluate(spec, result.variables, small.test_images, small.test_labels).accuracy
    assert f"{accuracy:.2%} of 200 test images" in text
    assert "MLP 784-32-batchnorm-dropout 0.25-layernorm-10" in text
    assert f"{spec.parameter_count:,}" in text and spec.parameter_count == 785 * 32 + 4 * 32 + 33 * 10
    assert "in evaluation mode: dropout off, BatchNorm&#x27;s 64 trained running averages" in text
    assert html.escape("(dropout, 0.25),") in text  # the flax code shown is the real module source
