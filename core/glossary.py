"""The words a newcomer meets on the pages, each with a one-line meaning in plain words; the pages show
the ones they use in presenter mode (``terms_in`` finds them in a page's text)."""

from __future__ import annotations

import re

from core.i18n import N_

#: term -> its meaning, for someone who does not program. Both are marked for the catalogue (a page shows
#: ``_(term)`` and ``_(meaning)``), except the terms that are names (Dense, relu, adam, ...).
GLOSSARY: dict[str, str] = {
    "Dense": N_("a layer where every unit is connected to every value of the layer before"),
    N_("units"): N_("the numbers a layer computes for each image; more units, more the layer can capture"),
    "MLP": N_("multi-layer perceptron: layers of units stacked one after another, the simplest neural network"),
    "relu": N_("an activation that keeps positive numbers and turns negative ones into 0"),
    N_("activation"): N_("a simple function applied to each unit's number, so that layers can learn curved shapes"),
    N_("parameters"): N_("the numbers the model learns (weights and biases); training adjusts them"),
    "params": N_("short for parameters: the numbers the model learns"),
    N_("epochs"): N_("how many times training goes through all the training images"),
    N_("learning rate"): N_("how big each adjustment of the parameters is"),
    N_("L2 penalty"): N_("a cost on large weights, so the model prefers simpler answers"),
    N_("input noise"): N_("random speckle added to training images so the model cannot memorise exact pixels"),
    N_("cross-entropy"): N_("the usual measure of how wrong a classifier's probabilities are: lower is better"),
    N_("batch"): N_("the small group of images the model looks at before each adjustment"),
    "adam": N_("a popular method for adjusting the parameters that adapts each one's step size"),
    N_("compile time"): N_("the one-off wait while the computer turns the model into fast machine code"),
    N_("checkpoint"): N_("a saved file of a trained model that can be loaded again later"),
    N_("kernel"): N_("a layer's table of weights: one number per connection"),
    N_("bias"): N_("a number a unit adds to its sum, so it can fire even when its inputs are 0"),
    N_("collection"): N_("a named group of a model's variables, such as params or batch_stats"),
    N_("pytrees"): N_("nested lists and dictionaries of arrays, the way JAX and flax keep a model's numbers"),
    "float32": N_("the kind of number stored: a decimal number with about 7 significant digits"),
    N_("latent space"): N_("the space of codes an autoencoder squeezes images into; similar images land close"),
    "PCA": N_("principal component analysis: finds the directions in which the codes spread the most"),
    N_("code"): N_("the few numbers an autoencoder squeezes an image into"),
    N_("seeds"): N_("numbers that fix the random choices, so a run can be repeated exactly"),
    N_("stratified"): N_("chosen so that each class keeps its share"),
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
