"""The visitor's language: from the browser on the first visit, the sidebar's switch and ``?lang=ja``."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from testkit.waits import HANG_S
from tests.pages.conftest import ROOT


def _visit(locale: str | None, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG_S)
    at.context = {"locale": locale}
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def _sidebar_words(at: AppTest) -> str:
    return "\n".join(
        [element.value for element in at.sidebar.markdown] + [toggle.label for toggle in at.sidebar.toggle]
    )


def _in_japanese(at: AppTest) -> bool:
    words = _sidebar_words(at)
    japanese = "発表モード" in words and "#### 進め方" in words and "#### 現在のモデル" in words
    english = "Presenter mode" in words and "#### Your path" in words
    assert japanese != english, words
    return japanese


def test_first_visit_follows_the_browser_language():
    japanese = _visit("ja-JP")
    assert _in_japanese(japanese)
    links = [link.label for link in japanese.sidebar.get("page_link")]
    assert links == ["**1. モデルを作る** ← 次はここです", "2. 学習させる", "3. 学習の結果を見る"], links
    assert not _in_japanese(_visit("en-US"))
    assert not _in_japanese(_visit(None))
    at = _visit("ja-JP")
    at.context = {"locale": "en-US"}  # only the first visit asks the browser: the language stays
    at.run()
    assert _in_japanese(at)


def test_the_sidebar_switches_the_language_and_the_link_keeps_it():
    at = _visit("en-US")
    assert at.query_params.get("lang") is None
    at.sidebar.selectbox(key="sidebar.language").set_value("ja").run()
    assert not at.exception
    assert _in_japanese(at)
    assert at.query_params["lang"] == "ja"
    assert at.query_params["model"] == "mlp"  # the model's settings stay in the link beside it
    at.sidebar.selectbox(key="sidebar.language").set_value("en").run()
    assert not _in_japanese(at)
    assert "lang" not in at.query_params


def test_a_link_with_lang_ja_opens_in_japanese():
    at = _visit("en-US", {"lang": "ja"})
    assert _in_japanese(at)
    assert at.sidebar.selectbox(key="sidebar.language").value == "ja"
    assert at.query_params["lang"] == "ja"


def test_a_link_with_a_language_not_offered_says_so_in_the_browser_language():
    at = _visit("ja-JP", {"lang": "<b>xx</b>"})
    assert _in_japanese(at)
    notes = [info.value for info in at.info]
    assert any("対応していません" in note and "\\<b\\>xx" in note and "<b>" not in note for note in notes), notes


def test_presenter_mode_keeps_the_choice_in_japanese():
    at = _visit("ja-JP")
    at.sidebar.toggle(key="sidebar.presenter").set_value(True).run()
    assert not at.exception
    assert _in_japanese(at)
    assert at.sidebar.selectbox(key="sidebar.language").value == "ja"
    assert any(expander.label == "このページの用語" for expander in at.sidebar.expander)


def test_one_visitors_choice_does_not_change_anothers():
    first, second = _visit("en-US"), _visit("en-US")
    first.sidebar.selectbox(key="sidebar.language").set_value("ja").run()
    assert _in_japanese(first)
    second.run()
    assert not _in_japanese(second)
    third = _visit("ja-JP")
    first.sidebar.selectbox(key="sidebar.language").set_value("en").run()
    third.run()
    assert _in_japanese(third) and not _in_japanese(first)
