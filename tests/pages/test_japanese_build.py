"""The Build and Variables pages in Japanese: their labels, explanations and tables, no English sentence left."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from core.presets import PRESETS
from testkit.support import open_tab, open_variables, page_texts, state
from tests.pages.conftest import ROOT

#: three English words in a row (code in backticks and the flax code boxes aside) is an English sentence
_ENGLISH_WORDS = re.compile(r"\b[A-Za-z]{3,} [a-z]{3,} [a-z]{3,}\b")
_CODE = re.compile(r"`[^`]*`")
#: the language choice explains itself in both languages, so that anyone finds theirs
_BOTH_LANGUAGES = "The language of the dashboard's words"


def _japanese_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["i18n.language"] = "ja"
    at.run()
    assert not at.exception
    return at


def _english_left(at: AppTest) -> list[str]:
    markdown, typed = page_texts(at)
    tables = [str(column) for frame in at.dataframe for column in frame.value.columns]
    texts = [text for text in markdown + typed + tables if not text.startswith(_BOTH_LANGUAGES)]
    return [text for text in texts if _ENGLISH_WORDS.search(_CODE.sub("", text))]


def test_build_page_in_japanese():
    at = _japanese_app()
    assert at.title[0].value == ":material/construction: モデルを作る"
    labels = {element.label for kind in ("selectbox", "button", "number_input") for element in at.get(kind)}
    assert {"プリセットから始める", "プリセットを使う", "ユニット数", "活性化関数", "層を追加"} <= labels, labels
    assert {m.label for m in at.metric} == {"パラメータ", "必要なメモリ", "1 枚あたりの演算数"}
    assert list(at.dataframe[0].value.columns) == ["層", "形", "活性化関数", "重み", "バイアス", "パラメータ"]
    assert _english_left(at) == []


def test_build_page_of_a_cnn_in_japanese_counts_its_conv_layers():
    at = _japanese_app()
    state(at).set_spec(PRESETS["flax MNIST example (CNN)"][1])
    at.run()
    assert not at.exception
    # the flax example: Conv 32, avg_pool, Conv 64, avg_pool, Dense 256, Dense 10
    counted = [c.value for c in at.sidebar.caption if "パラメータ" in c.value]
    assert counted and "Conv 層 2 個" in counted[0] and "Dense 層 2 個" in counted[0], counted
    assert list(at.dataframe[0].value.columns) == ["層", "種類", "形", "パラメータ"]
    assert _english_left(at) == []


def test_sidebar_counts_the_real_layers_of_a_cnn_in_english(app):
    state(app).set_spec(PRESETS["flax MNIST example (CNN)"][1])
    app.run()
    counted = [c.value for c in app.sidebar.caption if "parameters" in c.value]
    assert counted and counted[0].endswith("in 2 Conv layers, 2 Dense layers"), counted


@pytest.mark.parametrize(
    ("tab", "label"),
    [("ツリー", None), ("すべての配列の表", None), ("パラメータのある場所", None), ("カーネルを 1 つ見る", "カーネル")],
)
def test_variables_page_in_japanese(tab, label):
    at = _japanese_app()
    open_variables(at)
    assert not at.exception
    assert at.title[0].value == ":material/account_tree: 変数の中を見る"
    open_tab(at, "variables.tab", tab)
    assert not at.exception
    if label:
        assert label in {s.label for s in at.selectbox}
    assert _english_left(at) == []
