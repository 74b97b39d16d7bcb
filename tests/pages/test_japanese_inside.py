"""The Inside and Width sweep pages in Japanese: their texts, charts included, come from the catalogue."""

from __future__ import annotations

import json

import pytest

from core.presets import PRESETS
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.support import select_trained, state
from testkit.waits import HANG_S

MLP = PRESETS["MNIST classifier (default)"][1]


@pytest.fixture(scope="module")
def trained_classifier(sample):
    return train(MLP, TrainConfig(epochs=1), sample)


def _japanese(at):
    at.session_state["i18n.language"] = "ja"
    return at


def _chart_texts(at) -> str:
    """Every title, axis title, legend name, note and hover template of the page's charts."""
    texts = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        layout = spec["layout"]
        texts.append(str((layout.get("title") or {}).get("text", "")))
        for key, value in layout.items():
            if key.startswith(("xaxis", "yaxis")):
                texts.append(str((value.get("title") or {}).get("text", "")))
        texts += [str(note.get("text", "")) for note in layout.get("annotations", [])]
        for trace in spec["data"]:
            texts += [str(trace.get("name", "")), str(trace.get("hovertemplate", ""))]
    return "\n".join(texts)


def _page_texts(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "title") for e in at.get(kind)]
    parts += [
        w.label for kind in ("selectbox", "radio", "button", "number_input", "toggle", "slider") for w in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts)


def test_the_inside_page_of_a_trained_classifier_speaks_japanese(app, trained_classifier):
    _japanese(app)
    select_trained(app, trained_classifier)
    app.switch_page("pages/inside.py").run()
    assert not app.exception
    words = _page_texts(app)
    headings = ("1. 入力を選ぶ", "2. 各層の出力", "3. ネットワークの図", "4. 1つのユニット", "5. ユニットを止める")
    for expected in ("モデルの中", "テスト画像", "もう1枚", *headings):
        assert expected in words, (expected, words)
    for english in ("Pick an input", "Every layer's output", "Another image", "Switch units off"):
        assert english not in words, english
    charts = _chart_texts(app)
    assert "強い重み 200 個" in charts, charts  # the diagram's notes under the weights
    assert "確率 (%)" in charts, charts  # the answer's axis
    assert "ユニット %{customdata}" in charts, charts  # a layer grid's hover text
    assert "probability" not in charts and "strongest" not in charts, charts

    app.button(key="inside.switch.rank").click().run()
    assert not app.exception
    specs = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    ranking = next(s for s in specs if s["data"][0]["type"] == "bar" and s["data"][0].get("orientation") == "h")
    assert all(label.startswith("ユニット ") for label in ranking["data"][0]["y"])
    # "ユニット 102" is about 12 Latin letters wide: presenter mode's larger labels need more than English's 90 px
    assert ranking["layout"]["margin"]["l"] >= 9 * 12 + 10, ranking["layout"]["margin"]


def test_the_sweep_page_and_a_tiny_sweep_speak_japanese(app):
    _japanese(app)
    app.switch_page("pages/sweep.py").run()
    assert not app.exception
    words = _page_texts(app)
    for expected in ("モデルの違い", "サイズを変える層", "エポック", "幅の比較を開始", "推定時間"):
        assert expected in words, (expected, words)
    for english in ("Width sweep", "Start sweep", "Estimated time", "No sweep yet"):
        assert english not in words, english

    app.text_input(key="sweep.widths").set_value("8,16")
    app.text_input(key="sweep.seeds").set_value("0")
    app.number_input(key="sweep.epochs").set_value(1)
    app.button(key="FormSubmitter:sweep.settings-適用して時間を見積もる").click().run()
    assert "**2 個のモデル**（幅 2 通り × シード 1 個）、それぞれ" in app.info[0].value, app.info[0].value
    app.button(key="sweep.start").click().run()
    assert state(app).sweep.job.join(HANG_S), "the sweep did not end in time"
    app.run()
    assert not app.exception
    assert list(app.dataframe[0].value.columns)[:3] == ["幅", "モデル", "シード"]
    charts = _chart_texts(app)
    for expected in ("パラメータ数（対数目盛）", "最終の学習損失", "シードの平均", "学習ステップ", "幅 8、シード 0"):
        assert expected in charts, (expected, charts)
    assert "parameters" not in charts and "seed" not in charts, charts


def test_explore_and_draw_with_a_trained_autoencoder_speak_japanese(app, sample):
    _japanese(app)
    select_trained(app, train(ModelSpec.autoencoder((64, 12), (64,)), TrainConfig(epochs=1), sample))
    app.switch_page("pages/explore.py").run()
    assert not app.exception
    words = _page_texts(app)
    for expected in (
        "潜在空間を探検する",
        "### コードの中を動く",
        "### 地図の点を選ぶ",
        "主な2つの方向",
        "出発",
        "到着",
    ):
        assert expected in words, (expected, words)
    assert "テスト画像 #" in " ".join(option for box in app.selectbox for option in box.options)
    app.selectbox(key="explore.walk_to").select_index(2).run()
    assert not app.exception  # a choice made in Japanese is read back (its words are made while the page runs)
    app.switch_page("pages/draw.py").run()
    assert not app.exception
    words = _page_texts(app)
    assert "数字を描く" in words and "ペンの太さ" in words and "Draw a digit" not in words, words
