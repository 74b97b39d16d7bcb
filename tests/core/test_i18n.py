"""The Japanese catalogue: every text of the code is in it, translated, with the same placeholders."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from core.i18n import LOCALES, catalogue_path, language_of_locale, placeholders, translations

ROOT = LOCALES.parent


def _catalogue(language: str):
    with catalogue_path(language).open("rb") as file:
        return read_po(file, locale=language)


def _code_texts() -> set[str]:
    """Every text that ``_()``, ``ngettext()`` and ``N_()`` show, as ``pybabel extract`` finds them."""
    with (ROOT / "babel.cfg").open() as file:
        method_map, options_map = parse_mapping_cfg(file)
    found = extract_from_dir(ROOT, method_map, options_map)
    return {message if isinstance(message, str) else message[0] for _file, _line, message, _c, _ctx in found}


def test_every_text_in_the_code_is_in_the_japanese_catalogue():
    texts = _code_texts()
    assert "Presenter mode" in texts and "Train" in texts  # the extraction itself finds the sidebar's texts
    ids = {message.id if isinstance(message.id, str) else message.id[0] for message in _catalogue("ja") if message.id}
    assert texts - ids == set(), "run scripts/i18n.sh and translate the new texts"


def test_every_entry_has_a_japanese_text_with_the_same_placeholders():
    catalogue = _catalogue("ja")
    entries = [message for message in catalogue if message.id]
    assert len(entries) >= 29
    for message in entries:
        english = message.id if isinstance(message.id, str) else message.id[-1]
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert len(forms) == catalogue.num_plurals if message.pluralizable else len(forms) == 1, message.id
        for text in forms:
            assert text and text != english, f"{message.id!r} has no Japanese text"
            assert placeholders(text) == placeholders(english), (message.id, text)
        assert "fuzzy" not in message.flags, message.id
    assert [error for _message, errors in catalogue.check() for error in errors] == []


def test_placeholders_are_the_format_fields():
    assert placeholders("{count:,} in {layers} layers, {progress:.0%}") == ["count!:,", "layers!:", "progress!:.0%"]
    assert placeholders("{count} in {layers} layers") != placeholders("{count:,} in {layers} layers")
    assert placeholders("no fields, {{braces}}") == []


def test_compiled_catalogue_translates_titles_and_plurals():
    japanese = translations("ja")
    assert japanese.gettext("Train") == "学習"
    assert japanese.gettext("Presenter mode") == "発表モード"
    single = "{count:,} parameters (numbers the model learns) in {layers} Dense layer"
    several = single + "s"
    text = japanese.ngettext(single, several, 3).format(count=1234, layers=3)
    assert text == "Dense 層 3 個に、パラメータ（モデルが学習する数値）が 1,234 個あります"
    assert translations("en").ngettext(single, several, 1).format(count=5, layers=1).endswith("1 Dense layer")
    assert translations("xx").gettext("Train") == "Train"  # a language not offered reads English
    assert translations("ja") is translations("ja")  # compiled once, shared read-only


def test_language_of_a_browser_locale():
    assert language_of_locale("ja-JP") == "ja"
    assert language_of_locale("ja") == "ja"
    assert language_of_locale("JA_jp") == "ja"
    assert language_of_locale("en-GB") == "en"
    assert language_of_locale("de-DE") == "en"
    assert language_of_locale("") == "en"
    assert language_of_locale(None) == "en"
