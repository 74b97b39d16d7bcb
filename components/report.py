"""A finished run as one self-contained HTML file: readable offline, shareable by e-mail.

Plotly's JavaScript is embedded once (no CDN), images are inline PNGs, the flax code is
plain text. Pure: data in, a string out (no streamlit), so tests can open it in Chromium.
"""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Callable

import numpy as np
import plotly.io as pio
from PIL import Image

from components import figures
from components.images import tile
from core import predict
from core.costs import human_bytes, human_count, model_costs
from core.data import Dataset
from core.i18n import ENGLISH, translations
from core.reasons import reason_text
from core.spec import MLPSpec
from core.tasks import task_of
from core.training import TrainResult
from core.variables import flax_source

_STYLE = """
body { font-family: system-ui, "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic", Meiryo,
  sans-serif; max-width: 1100px; margin: 2rem auto; padding: 0 1rem; color: #1f2937; }
h1 { margin-bottom: 0.2rem; } .sub { color: #6b7280; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { border: 1px solid #e5e7eb; padding: 0.35rem 0.7rem; }
th { background: #f3f4f6; text-align: left; } pre { background: #f9fafb; padding: 1rem; overflow-x: auto; }
img { image-rendering: pixelated; max-width: 100%; } .cap { color: #6b7280; font-size: 0.9rem; }
"""


def png_data_uri(picture: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


#: room for tick labels and axis titles: the dashboard's tight margins rely on Streamlit's chart theme,
#: which a standalone page does not have ("0.5" would show as ".5", confusion row labels cut)
#: (grown where the labels need it: the live curves' fixed margins, ``autoexpand`` off, are not for a report)
REPORT_MARGIN = {"l": 80, "r": 30, "t": 50, "b": 70, "autoexpand": True}


def report_figure(fig):
    """A dashboard figure made ready for the standalone page: margins that fit its labels."""
    fig.update_layout(
        margin=REPORT_MARGIN, legend={"orientation": "h", "y": -0.3}, font={"family": figures.FONT_FAMILY}
    )
    fig.update_xaxes(automargin=True, title_standoff=12)
    fig.update_yaxes(automargin=True, title_standoff=12)
    return fig


def _figure(fig, first: bool) -> str:
    return pio.to_html(report_figure(fig), full_html=False, include_plotlyjs=first)


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def run_report(result: TrainResult, dataset: Dataset, title: str, images: int = 16, language: str = ENGLISH) -> str:
    """The HTML report of ``result`` evaluated on ``dataset``'s test split, in ``language`` (the page
    passes its visitor's)."""
    spec, config = result.spec, result.config
    evaluation = predict.evaluate(
        spec, result.variables, dataset.test_images, dataset.test_labels, config.reconstruction_loss
    )
    rows = _summary_rows(result, dataset, evaluation, translations(language).gettext)
    parts = _result_parts(result, dataset, evaluation, images)
    return (
        f"<!DOCTYPE html><html lang='{language}'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='sub'>Report made {time.strftime('%Y-%m-%d %H:%M')} "
        "by the flax model dashboard</p>"
        + _table(rows)
        + "".join(parts)
        + f"<h2>The model in flax</h2><pre>{html.escape(flax_source(spec))}</pre></body></html>"
    )


def _summary_rows(
    result: TrainResult, dataset: Dataset, evaluation: predict.Evaluation, gettext: Callable[[str], str]
) -> list[tuple[str, str]]:
    """The table at the top: the model, its data and training, the outcome and the test score."""
    spec, config, history = result.spec, result.config, result.history
    costs = model_costs(spec, config)
    last = result.final_metrics
    work = f"{human_count(costs.forward_flops)} operations forward, {human_count(costs.train_flops)} to learn from it"
    augment = ", images shifted by up to 1 pixel" if config.augment else ""
    training = (
        f"{config.optimizer}, learning rate {config.learning_rate:g}, batch {config.batch_size}, "
        f"{len(history.epochs)} of {config.epochs} epochs, seed {config.seed}{augment}"
    )
    timing = (
        f"compile {result.compile_s:.1f} s, training {result.train_s:.1f} s, "
        f"{result.samples_per_s:,.0f} images per second"
    )
    rows = [
        ("Model", spec.describe()),
        ("Parameters", f"{spec.parameter_count:,} ({human_bytes(costs.parameter_bytes)})"),
        ("Work per image", work),
        ("Data", f"{dataset.name}: {dataset.num_train:,} training / {dataset.num_test:,} test images"),
        ("Training", training),
        ("Outcome", result.status + (f": {reason_text(result.reason, gettext)}" if result.reason else "")),
        ("Time", timing),
    ]
    if spec.has_dropout or spec.has_batchnorm:
        stats = (
            f", BatchNorm's {spec.batch_stats_count:,} trained running averages (batch_stats)"
            if spec.has_batchnorm
            else ""
        )
        rows.append(("Evaluated", f"in evaluation mode: dropout off{stats}"))
    if evaluation.accuracy is not None:
        rows.append(("Test accuracy", f"{evaluation.accuracy:.2%} of {evaluation.n:,} test images"))
    else:
        baseline = predict.mean_image_mse(dataset.train_images, dataset.test_images)
        rows.append(("Test reconstruction error", f"{evaluation.mse:.4f} per pixel (average image: {baseline:.4f})"))
    if last is not None:
        rows.append(("Final training loss", f"{last.train_loss:.4f}"))
    return rows


def _result_parts(result: TrainResult, dataset: Dataset, evaluation: predict.Evaluation, images: int) -> list[str]:
    """The learning curve, then predictions and the confusion matrix (MLP) or reconstructions."""
    spec, config, history = result.spec, result.config, result.history
    curve = figures.Curve(
        "run", np.asarray(history.step_losses, np.float32), [e.step for e in history.epochs],
        [e.test_loss for e in history.epochs], [e.test_accuracy for e in history.epochs],
    )  # fmt: skip
    loss_name = task_of(spec).loss_label(config.reconstruction_loss)
    parts = [f"<h2>Learning curve</h2>{_figure(figures.loss_figure([curve], loss_name), first=True)}"]
    shown = np.random.default_rng(0).choice(dataset.num_test, size=min(images, dataset.num_test), replace=False)
    originals = dataset.test_images[shown]
    if isinstance(spec, MLPSpec):
        parts.append(_figure(figures.accuracy_figure([curve]), first=False))
        probabilities = predict.predict_probabilities(spec, result.variables, originals)
        answers = zip(probabilities.argmax(1), probabilities.max(1), strict=True)
        said = [f"{dataset.class_names[p]} ({q:.0%})" for p, q in answers]
        parts.append(
            f"<h2>Predictions on test images</h2><img alt='test images' src='{png_data_uri(tile(originals, 8, 4))}'>"
            f"<p class='cap'>The model says, left to right, top to bottom: {html.escape(', '.join(said))}</p>"
            "<h2>Confusion matrix</h2>"
            f"{_figure(figures.confusion_figure(evaluation.confusion, dataset.class_names), first=False)}"
            "<p class='cap'>Rows: the true class. Columns: the model's answer.</p>"
        )
    else:
        rebuilt = predict.reconstruct(spec, result.variables, originals)
        parts.append(
            "<h2>Reconstructions</h2>"
            f"<img alt='test images' src='{png_data_uri(tile(originals, 8, 4))}'><p class='cap'>Test images</p>"
            f"<img alt='reconstructions' src='{png_data_uri(tile(rebuilt, 8, 4))}'>"
            f"<p class='cap'>Rebuilt from a code of {spec.code_size} numbers</p>"
        )
    return parts
