"""The one way to show a stranger's text: ``plain`` (markdown), ``option_text`` and ``figure_text``; and the
server's folders named by their role when served to others."""

from __future__ import annotations

import pytest
from streamlit import config

from components.server_paths import hide_server_paths
from components.words import figure_text, option_text, plain
from core.data.archive import UPLOAD_ROOT
from testkit.support import HOSTILE, as_github_shows


@pytest.fixture
def served():
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    yield
    config.set_option("server.address", before)


@pytest.mark.parametrize("value", [*HOSTILE.values(), "a@b.example", "www.h.com", ":smile: :red[x]", "`x` | y"])
def test_plain_text_renders_as_typed_and_nothing_else(value):
    tags, text = as_github_shows(plain(value, 1000))
    assert tags == ["p"]
    assert text == " ".join(value.split()) + "\n"


def test_plain_text_is_one_line_cut_with_an_ellipsis():
    _, text = as_github_shows(plain("a\n\n# b " + "c" * 500, 40))
    assert text == "a # b " + "c" * 33 + "…\n"


def test_options_and_figure_labels_show_the_text_as_typed():
    assert option_text(HOSTILE["link"]) == HOSTILE["link"]
    assert figure_text("<b>x</b> & <a href='y'>") == "&lt;b&gt;x&lt;/b&gt; &amp; &lt;a href=&#x27;y&#x27;&gt;"
    assert figure_text("x" * 100) == "x" * 39 + "…"


def test_served_to_others_server_folders_are_named_by_their_role(served, monkeypatch, tmp_path):
    monkeypatch.setenv("FLAX_DASHBOARD_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("FLAX_DASHBOARD_DATA_ROOTS", f"{tmp_path / 'data'}:/srv/images")
    text = f"{tmp_path / 'runs'}/1.json, {tmp_path / 'data'}/x, /srv/images, /srv/imagesx, {UPLOAD_ROOT}/upload-1"
    assert hide_server_paths(text) == (
        "the runs folder/1.json, data root 1/x, data root 2, /srv/imagesx, the uploads folder/upload-1"
    )


def test_on_loopback_the_paths_stay(monkeypatch, tmp_path):
    monkeypatch.setenv("FLAX_DASHBOARD_RUNS_DIR", str(tmp_path / "runs"))
    assert config.get_option("server.address") == "127.0.0.1"
    assert hide_server_paths(f"{tmp_path}/runs/1.json") == f"{tmp_path}/runs/1.json"


def test_the_roles_follow_a_changed_setting_in_the_same_process(served, monkeypatch):
    """The roles are made once per setting, not once per process: a new data root is named at once."""
    monkeypatch.setenv("FLAX_DASHBOARD_DATA_ROOTS", "/srv/a")
    assert hide_server_paths("/srv/a/x /srv/b/y") == "data root 1/x /srv/b/y"
    monkeypatch.setenv("FLAX_DASHBOARD_DATA_ROOTS", "/srv/b")
    assert hide_server_paths("/srv/a/x /srv/b/y") == "/srv/a/x data root 1/y"
    monkeypatch.setenv("FLAX_DASHBOARD_RUNS_DIR", "/srv/runs")
    assert hide_server_paths("/srv/runs/1.json") == "the runs folder/1.json"
