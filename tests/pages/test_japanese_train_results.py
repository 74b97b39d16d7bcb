"""The Train and Results pages in Japanese: a visitor who reads Japanese trains a model and reads its
results without meeting the English texts these pages write (issue 31)."""

from __future__ import annotations

import json
import re

from components.report import run_report
from testkit.support import state, wait_for_training

#: English sentences of these pages that must not be left in the Japanese page
ENGLISH = (
    "Start training", "Learning rate", "Epochs", "Images to learn from", "Steps done", "Images per second",
    "Time left", "Compile time", "Compare with", "Watch the model learn", "Model used on the other pages",
    "More epochs", "Continue training", "Download checkpoint", "Prepare ONNX", "Load a checkpoint",
    "Saved runs on this computer", "Test accuracy", "Average confidence", "Confusion matrix",
    "New random images", "Look inside the network", "Download a report", "First training images",
    " left", "images/s", "of test images right", "Solid:", "Its answers",
)  # fmt: skip


def _main_texts(at) -> str:
    """Every text of the page's main area: markdown, captions, labels, help, metrics, table headers."""
    texts = []
    for kind in ("markdown", "caption", "title", "info", "warning", "error", "success", "expander"):
        texts += [getattr(e, "value", None) or getattr(e, "label", "") for e in at.main.get(kind)]
    for kind in ("button", "number_input", "text_input", "selectbox", "multiselect", "toggle", "checkbox"):
        texts += [f"{e.label} {e.help or ''}" for e in at.main.get(kind)]
    texts += [f"{m.label} {m.value} {m.proto.help}" for m in at.main.get("metric")]
    texts += [" ".join(map(str, d.value.columns)) for d in at.main.get("arrow_data_frame")]
    texts += [p.proto.text for p in at.main.get("progress")]
    return "\n".join(map(str, texts))


def _no_english(at) -> None:
    words = _main_texts(at)
    left = [english for english in ENGLISH if english in words]
    assert not left, (left, words)


def test_train_and_results_read_in_japanese(app):
    app.session_state["i18n.language"] = "ja"
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert app.main.title[0].value.endswith("学習")
    _no_english(app)
    assert any(b.label == "学習を開始" for b in app.button)
    # Streamlit's uploader writes "Upload" and its limits in English: the page shows them in Japanese instead
    words = [h.value for h in app.get("html") if "アップロード" in h.value]
    assert words and re.search(r'"1 ファイル \d+ MB まで · MSGPACK"', words[0]), words
    app.number_input(key="train.epochs").set_value(1)
    next(b for b in app.button if b.label == "学習を開始").click().run()
    assert not app.exception
    wait_for_training(app)
    assert not app.exception
    run = state(app).runs[-1]
    assert run.status == "finished"
    words = _main_texts(app)
    assert f"#### {run.result.steps:,} ステップ後のモデル" in words
    assert "### 学習の一覧" in words
    assert list(app.dataframe[0].value.columns)[:3] == ["学習", "モデル", "データ"]
    assert app.dataframe[0].value["状態"][0] == "完了"
    assert "テスト画像の正解率" in app.dataframe[0].value["結果"][0]
    _no_english(app)

    app.switch_page("pages/results.py").run()
    assert not app.exception
    assert app.main.title[0].value.endswith("予測")
    accuracy = run.result.final_metrics.test_accuracy
    assert next(m.value for m in app.metric if m.label == "テストの正解率") == f"{accuracy:.1%}"
    wrong = round((1 - accuracy) * 500)
    assert next(m.value for m in app.metric if m.label == "不正解") == f"{wrong:,} / 500"
    assert "### 混同行列" in _main_texts(app)
    _no_english(app)


def test_the_report_speaks_the_visitors_language(small):
    from core.spec import ModelSpec
    from core.training import TrainConfig, train

    result = train(ModelSpec.mlp((16,)), TrainConfig(epochs=1), small)
    japanese = run_report(result, small, "学習 1", language="ja")
    assert "<html lang='ja'>" in japanese
    for text in ("学習曲線", "テスト画像での予測", "混同行列", "パラメータ", "テストの正解率"):
        assert text in japanese, text
    shown = re.sub(r"<script.*?</script>|<pre>.*?</pre>|<style>.*?</style>", "", japanese, flags=re.S)
    assert "Learning curve" not in shown and "Test accuracy" not in shown
    # the figures too, though the report is made outside the visitor's script run (when its button is clicked)
    axis = "学習ステップ（1ステップ = 1バッチ）"
    assert axis in japanese or json.dumps(axis)[1:-1] in japanese
    assert "training step (one batch each)" not in japanese
    english = run_report(result, small, "Run 1")
    assert "Learning curve" in english and "<html lang='en'>" in english
