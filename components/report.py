"""A finished run as one self-contained HTML file: readable offline, shareable by e-mail.

Plotly's JavaScript is embedded once (no CDN), images are inline PNGs, the flax code is
plain text. Pure: data in, a string out (no page calls), so tests can open it in Chromium; its words
are in the language it is given (``run_report(..., language="ja")``), the figures' too.
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
from components.i18n import speaking
from components.images import tile
from components.words import count_words
from core import predict
from core.costs import human_bytes, model_costs
from core.data import Dataset
from core.i18n import ENGLISH, N_, translations
from core.reasons import reason_text
from core.spec import MLPSpec
from core.tasks import task_of
from core.training import Status, TrainResult
from core.variables import flax_source

_STYLE = """
body { font-family: system-ui, "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic", Meiryo,
  sans-serif; max-width: 1100px; margin: 2rem auto; padding: 0 1rem; color: #1f2937; }
h1 { margin-bottom: 0.2rem; } .sub { color: #6b7280; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { border: 1px solid #e5e7eb; padding: 0.35rem 0.7rem; }
th { background: #f3f4f6; text-align: left; } pre { background: #f9fafb; padding: 1rem; overflow-x: auto; }
img { image-rendering: pixelated; max-width: 100%; } .cap { color: #6b7280; font-size: 0.9rem; }
"""


#: how a finished run ended, in words (the run file keeps the status's own value)
OUTCOMES = {
    Status.FINISHED: N_("finished"),
    Status.STOPPED: N_("stopped"),
    Status.DIVERGED: N_("diverged"),
    Status.FAILED: N_("failed"),
}
CONFUSION_WORDS = N_("Rows: the true class. Columns: the model's answer.")


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


def _tag(name: str, text: str) -> str:
    """``text`` as an element (a paragraph is a caption)."""
    cap = " class='cap'" if name == "p" else ""
    return f"<{name}{cap}>{html.escape(text)}</{name}>"


def _picture(images: np.ndarray, alt: str) -> str:
    return f"<img alt='{html.escape(alt, quote=True)}' src='{png_data_uri(tile(images, 8, 4))}'>"


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def run_report(result: TrainResult, dataset: Dataset, title: str, images: int = 16, language: str = ENGLISH) -> str:
    """The HTML report of ``result`` evaluated on ``dataset``'s test split, its words in ``language``."""
    with speaking(language):  # the figures' words too, made when the button is clicked, outside the page's run
        return _report(result, dataset, title, images, language)


def _report(result: TrainResult, dataset: Dataset, title: str, images: int, language: str) -> str:
    spec, config = result.spec, result.config
    _ = translations(language).gettext
    evaluation = predict.evaluate(
        spec, result.variables, dataset.test_images, dataset.test_labels, config.reconstruction_loss
    )
    rows = _summary_rows(result, dataset, evaluation, _)
    parts = _result_parts(result, dataset, evaluation, images, _)
    made = _("Report made {time} by the flax model dashboard").format(time=time.strftime("%Y-%m-%d %H:%M"))
    return (
        f"<!DOCTYPE html><html lang='{html.escape(language)}'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='sub'>{html.escape(made)}</p>"
        + _table(rows)
        + "".join(parts)
        + _tag("h2", _("The model in flax"))
        + f"<pre>{html.escape(flax_source(spec))}</pre></body></html>"
    )


def _training_words(result: TrainResult, _: Callable[[str], str]) -> str:
    config = result.config
    training = _(
        "{optimizer}, learning rate {rate:g}, batch {batch}, {done} of {epochs} epochs, seed {seed}"
    ).format(
        optimizer=config.optimizer, rate=config.learning_rate, batch=config.batch_size,
        done=len(result.history.epochs), epochs=config.epochs, seed=config.seed,
    )  # fmt: skip
    return training + (_(", images shifted by up to 1 pixel") if config.augment else "")


def _summary_rows(
    result: TrainResult, dataset: Dataset, evaluation: predict.Evaluation, _: Callable[[str], str]
) -> list[tuple[str, str]]:
    """The table at the top: the model, its data and training, the outcome and the test score."""
    spec, config = result.spec, result.config
    costs = model_costs(spec, config)
    last = result.final_metrics
    work = _("{forward} operations forward, {train} to learn from it").format(
        forward=count_words(costs.forward_flops), train=count_words(costs.train_flops)
    )
    timing = _("compile {compile:.1f} s, training {train:.1f} s, {speed:,.0f} images per second").format(
        compile=result.compile_s, train=result.train_s, speed=result.samples_per_s
    )
    data = _("{name}: {train:,} training / {test:,} test images").format(
        name=dataset.name, train=dataset.num_train, test=dataset.num_test
    )
    rows = [
        (_("Model"), spec.describe()),
        (_("Parameters"), f"{spec.parameter_count:,} ({human_bytes(costs.parameter_bytes)})"),
        (_("Work per image"), work),
        (_("Data"), data),
        (_("Training"), _training_words(result, _)),
        (
            _("Outcome"),
            _(OUTCOMES.get(result.status, result.status))
            + (f": {reason_text(result.reason, _)}" if result.reason else ""),
        ),
        (_("Time"), timing),
    ]
    if spec.has_dropout or spec.has_batchnorm:
        stats = (
            _(", BatchNorm's {count:,} trained running averages (batch_stats)").format(count=spec.batch_stats_count)
            if spec.has_batchnorm
            else ""
        )
        rows.append((_("Evaluated"), _("in evaluation mode: dropout off{stats}").format(stats=stats)))
    if evaluation.accuracy is not None:
        score = _("{share:.2%} of {count:,} test images").format(share=evaluation.accuracy, count=evaluation.n)
        rows.append((_("Test accuracy"), score))
    else:
        baseline = predict.mean_image_mse(dataset.train_images, dataset.test_images)
        score = _("{error:.4f} per pixel (average image: {baseline:.4f})").format(
            error=evaluation.mse, baseline=baseline
        )
        rows.append((_("Test reconstruction error"), score))
    if last is not None:
        rows.append((_("Final training loss"), f"{last.train_loss:.4f}"))
    return rows


def _result_parts(
    result: TrainResult, dataset: Dataset, evaluation: predict.Evaluation, images: int, _: Callable[[str], str]
) -> list[str]:
    """The learning curve, then predictions and the confusion matrix (MLP) or reconstructions."""
    spec, config, history = result.spec, result.config, result.history
    curve = figures.Curve(
        _("run"), np.asarray(history.step_losses, np.float32), [e.step for e in history.epochs],
        [e.test_loss for e in history.epochs], [e.test_accuracy for e in history.epochs],
    )  # fmt: skip
    loss_name = _(task_of(spec).loss_label(config.reconstruction_loss))
    parts = [_tag("h2", _("Learning curve")) + _figure(figures.loss_figure([curve], loss_name), first=True)]
    shown = np.random.default_rng(0).choice(dataset.num_test, size=min(images, dataset.num_test), replace=False)
    originals = dataset.test_images[shown]
    pictures = _picture(originals, _("test images"))
    if isinstance(spec, MLPSpec):
        parts.append(_figure(figures.accuracy_figure([curve]), first=False))
        probabilities = predict.predict_probabilities(spec, result.variables, originals)
        answers = zip(probabilities.argmax(1), probabilities.max(1), strict=True)
        said = [f"{dataset.class_names[p]} ({q:.0%})" for p, q in answers]
        says = _("The model says, left to right, top to bottom: {answers}").format(answers=", ".join(said))
        parts += [
            _tag("h2", _("Predictions on test images")) + pictures + _tag("p", says),
            _tag("h2", _("Confusion matrix")),
            _figure(figures.confusion_figure(evaluation.confusion, dataset.class_names), first=False),
            _tag("p", _(CONFUSION_WORDS)),
        ]
    else:
        rebuilt = predict.reconstruct(spec, result.variables, originals)
        code = _("Rebuilt from a code of {count} numbers").format(count=spec.code_size)
        parts += [
            _tag("h2", _("Reconstructions")) + pictures + _tag("p", _("Test images")),
            _picture(rebuilt, _("reconstructions")) + _tag("p", code),
        ]
    return parts
