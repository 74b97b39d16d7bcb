"""The words a newcomer meets on the pages, each with a one-line meaning in plain words; the pages show
the ones they use in presenter mode (``terms_in`` finds them in a page's text)."""

from __future__ import annotations

import re

#: term -> its meaning, for someone who does not program.
GLOSSARY: dict[str, str] = {
    "Dense": "a layer where every unit is connected to every value of the layer before",
    "units": "the numbers a layer computes for each image; more units, more the layer can capture",
    "MLP": "multi-layer perceptron: layers of units stacked one after another, the simplest neural network",
    "relu": "an activation that keeps positive numbers and turns negative ones into 0",
    "activation": "a simple function applied to each unit's number, so that layers can learn curved shapes",
    "parameters": "the numbers the model learns (weights and biases); training adjusts them",
    "params": "short for parameters: the numbers the model learns",
    "epochs": "how many times training goes through all the training images",
    "learning rate": "how big each adjustment of the parameters is",
    "L2 penalty": "a cost on large weights, so the model prefers simpler answers",
    "input noise": "random speckle added to training images so the model cannot memorise exact pixels",
    "cross-entropy": "the usual measure of how wrong a classifier's probabilities are: lower is better",
    "batch": "the small group of images the model looks at before each adjustment",
    "adam": "a popular method for adjusting the parameters that adapts each one's step size",
    "compile time": "the one-off wait while the computer turns the model into fast machine code",
    "checkpoint": "a saved file of a trained model that can be loaded again later",
    "kernel": "a layer's table of weights: one number per connection",
    "bias": "a number a unit adds to its sum, so it can fire even when its inputs are 0",
    "collection": "a named group of a model's variables, such as params or batch_stats",
    "pytrees": "nested lists and dictionaries of arrays, the way JAX and flax keep a model's numbers",
    "float32": "the kind of number stored: a decimal number with about 7 significant digits",
    "latent space": "the space of codes an autoencoder squeezes images into; similar images land close",
    "PCA": "principal component analysis: finds the directions in which the codes spread the most",
    "code": "the few numbers an autoencoder squeezes an image into",
    "seeds": "numbers that fix the random choices, so a run can be repeated exactly",
    "stratified": "chosen so that each class keeps its share",
}


def terms_in(text: str) -> list[str]:
    """The glossary's terms that appear in ``text`` as whole words, in glossary order (Dense, relu and the
    like in any case; a plural "seed" counts as "seeds", "epoch" as "epochs", "unit" as "units")."""
    found = []
    for term in GLOSSARY:
        stem = term[:-1] if term.endswith("s") and term not in ("params",) else term
        pattern = rf"(?<![\w-]){re.escape(stem)}s?(?![\w-])"
        if re.search(pattern, text, flags=re.IGNORECASE):
            found.append(term)
    return found
