"""The Japanese catalogue: every text of the code is in it, translated, with the same placeholders.

The catalogue is ``locales/<language>/LC_MESSAGES/messages.po``, as ``core.i18n`` reads it.
"""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from core.errors import ConfigError, DataError, SpecError
from core.i18n import LOCALES, catalogue_path, language_of_locale, placeholders, translations
from core.reasons import STOPPED_BY_REQUEST, ErrorMessage, reason_text
from core.training import TrainConfig
from core.training.divergence import divergence_reason

ROOT = LOCALES.parent


def _catalogues(language: str) -> list:
    """``messages.po`` of ``language``, read with Babel."""
    paths = [catalogue_path(language)]
    catalogues = []
    for path in paths:
        with path.open("rb") as file:
            catalogues.append((path.relative_to(ROOT), read_po(file, locale=language)))
    return catalogues


def _translated_ids(language: str) -> set[str]:
    """The ids that have a translation in ``messages.po`` or a draft."""
    ids = set()
    for _path, catalogue in _catalogues(language):
        for message in catalogue:
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.id and all(forms):
                ids.add(message.id if isinstance(message.id, str) else message.id[0])
    return ids


def _code_texts() -> dict[str, str]:
    """Every text that ``_()``, ``ngettext()`` and ``N_()`` show, as ``pybabel extract`` finds them, with
    the file it is in."""
    with (ROOT / "babel.cfg").open() as file:
        method_map, options_map = parse_mapping_cfg(file)
    found = extract_from_dir(ROOT, method_map, options_map, keywords={"_": None, "N_": None, "ngettext": (1, 2)})
    texts = {}
    for path, _line, message, _comments, _context in found:
        texts.setdefault(message if isinstance(message, str) else message[0], path)
    return texts


def _has_words(text: str) -> bool:
    """Whether ``text`` holds words besides its placeholders (``"{item!r}: {reason}"`` holds none)."""
    return bool(re.search(r"[A-Za-z]{2,}", re.sub(r"\{[^{}]*\}", "", text)))


def test_every_text_in_the_code_has_a_japanese_text():
    texts = _code_texts()
    assert "Presenter mode" in texts and "Train" in texts  # the extraction itself finds the sidebar's texts
    assert "stopped by request after {steps:,} of {total:,} steps" in texts  # and core's N_() texts
    missing = sorted(set(texts) - _translated_ids("ja"), key=lambda text: (texts[text], text))
    assert missing == [], f"{len(missing)} texts have no Japanese text yet:\n" + "\n".join(
        f"  {texts[text]}: {text!r}" for text in missing
    )


def test_every_entry_has_a_japanese_text_with_the_same_placeholders():
    problems = []
    count = 0
    for path, catalogue in _catalogues("ja"):
        assert catalogue.num_plurals == 1, path  # Japanese has one form: "Plural-Forms: nplurals=1; plural=0;"
        for message in catalogue:
            if not message.id:
                continue
            count += 1
            english = message.id if isinstance(message.id, str) else message.id[-1]
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            if len(forms) != (catalogue.num_plurals if message.pluralizable else 1):
                problems.append(f"{path}: {message.id!r} has {len(forms)} forms")
            for text in forms:
                if not text or (text == english and _has_words(english)):
                    problems.append(f"{path}: {message.id!r} has no Japanese text")
                elif placeholders(text) != placeholders(english):
                    problems.append(f"{path}: {message.id!r} has other placeholders: {text!r}")
            if "fuzzy" in message.flags:
                problems.append(f"{path}: {message.id!r} is marked fuzzy")
        problems += [f"{path}: {message.id!r}: {error}" for message, errors in catalogue.check() for error in errors]
    assert count >= 29 + 300  # messages.po and core's draft at least
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems)


def test_a_core_error_reads_in_japanese():
    japanese = translations("ja").gettext
    try:
        TrainConfig(learning_rate=-1)
    except ConfigError as err:
        assert str(err) == "learning_rate: learning rate must be above 0 and at most 1e+06, got -1"
        assert (
            err.text(japanese) == "learning_rate: 学習率は 0 より大きく 1e+06 以下にしてください。-1 が指定されました"
        )
        assert err.reason_text(japanese) == "学習率は 0 より大きく 1e+06 以下にしてください。-1 が指定されました"
    try:
        TrainConfig(batch_size="x")
    except ConfigError as err:  # the setting's name, a word of the product's own, is translated too
        assert err.reason_text(japanese) == "バッチサイズは整数にしてください。'x' が指定されました"
    error = DataError("folder {root} does not exist", root="/tmp/学習")  # a value stays as it was given
    assert error.text(japanese) == "フォルダ /tmp/学習 がありません"
    assert error.text() == str(error) == "folder /tmp/学習 does not exist"


def test_a_quoted_cause_is_translated_with_its_message():
    from core.layer_items import parse_layers

    japanese = translations("ja").gettext
    try:
        parse_layers("512:relu,64:nope", "hidden")
    except SpecError as err:
        assert "nope" in str(err) and "unknown activation" in str(err)
        assert "活性化関数 'nope' はありません" in err.text(japanese), err.text(japanese)
        assert "unknown" not in err.text(japanese)


def test_run_reasons_read_in_japanese_even_from_a_saved_english_text():
    japanese = translations("ja").gettext
    stopped = STOPPED_BY_REQUEST.format(steps=1200, total=4000)
    assert stopped == "stopped by request after 1,200 of 4,000 steps"
    assert reason_text(stopped, japanese) == "指示により、4,000 ステップ中 1,200 ステップで停止しました"
    diverged = divergence_reason(float("nan"), 2.3, 120, 100, TrainConfig(learning_rate=0.5))
    assert diverged.startswith("the loss became NaN (not a number) at step 120: the learning rate (0.5)")
    assert reason_text(diverged, japanese) == (
        "ステップ 120 で損失が NaN（数値でない値）になりました。学習率（0.5）が adam には高すぎるようです。"
        "学習を止めました。モデルには、ステップ 100 のあとの最後の正常なパラメータが残っています。"
    )
    assert reason_text("an older version's own words", japanese) == "an older version's own words"
    assert reason_text(stopped, translations("en").gettext) == stopped
    failed = ErrorMessage(DataError("folder {root} does not exist", root="/data"))
    assert failed == "folder /data does not exist"  # a status message is its English text
    assert reason_text(failed, japanese) == "フォルダ /data がありません"


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


def test_a_refused_layer_setting_names_the_layer_in_japanese_too():
    from core.layer_items import parse_layers

    ja = translations("ja").gettext
    for text, english, japanese in (
        ("64, 5000", "width of hidden layer 2", "隠れ層 2 の幅"),
        ("conv:0, 10", "channels of hidden layer 1", "隠れ層 1 のチャネル数"),
        ("64, dropout:many", "dropout rate of hidden layer 2", "隠れ層 2 のドロップアウト率"),
    ):
        try:
            parse_layers(text, "hidden")
        except SpecError as err:
            assert english in str(err)  # the command line's English, as before
            said = err.reason_text(ja)  # as the page shows it, beside the setting
            assert japanese in said and "hidden" not in said and "layer" not in said, said
        else:
            raise AssertionError(f"{text!r} was accepted")
