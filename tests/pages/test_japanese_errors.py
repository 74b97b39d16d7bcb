"""A core error reaches a Japanese visitor in Japanese: the page shows ``error_text(err)``, not ``str(err)``."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.pages.conftest import ROOT


def _visit(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.context = {"locale": "ja-JP"}
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def test_a_bad_link_is_explained_in_japanese():
    at = _visit({"model": "mlp", "lr": "-1"})
    notices = "\n".join(info.value for info in at.info)
    # the learning rate's own check, in Japanese; the value as the link gave it
    assert "学習率は 0 より大きく 1e\\+06 以下にしてください。\\-1 が指定されました" in notices, notices
    assert "learning rate must be" not in notices


def test_an_english_visitor_reads_the_same_error_in_english():
    at = _visit({"model": "mlp", "lr": "-1", "lang": "en"})
    notices = "\n".join(info.value for info in at.info)
    assert "learning rate must be above 0 and at most 1e\\+06, got \\-1" in notices, notices  # plain text, escaped
