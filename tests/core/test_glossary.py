"""The glossary (core/glossary.py): every word of issue 30's point 14 has a one-line meaning in plain words,
and terms_in finds the terms a text uses as whole words."""

from core.glossary import GLOSSARY, terms_in

ISSUE_TERMS = [
    "Dense",
    "units",
    "MLP",
    "relu",
    "activation",
    "parameters",
    "epochs",
    "learning rate",
    "L2 penalty",
    "input noise",
    "cross-entropy",
    "batch",
    "adam",
    "compile time",
    "checkpoint",
    "kernel",
    "bias",
    "params",
    "collection",
    "pytrees",
    "float32",
    "latent space",
    "PCA",
    "code",
    "seeds",
    "stratified",
]


def test_every_term_a_newcomer_meets_has_a_one_line_plain_meaning():
    assert set(ISSUE_TERMS) <= set(GLOSSARY)
    for term, meaning in GLOSSARY.items():
        assert meaning and "\n" not in meaning and len(meaning) <= 120, term
        assert term.lower() not in meaning.split()[:1], term  # a meaning, not the word again


def test_terms_are_found_as_whole_words_in_any_case_and_number():
    text = "Train MLP 784-512-256-10 with Adam for 3 epochs (one epoch = every image once); 1 seed, relu units."
    assert terms_in(text) == ["units", "MLP", "relu", "epochs", "adam", "seeds"]
    assert terms_in("encoder, decoding, codebook") == []  # "code" only as a word
    assert terms_in("batch size 128; the kernel and bias of a Dense layer") == ["Dense", "batch", "kernel", "bias"]
