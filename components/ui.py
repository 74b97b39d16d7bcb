"""Presenter / beginner mode: one switch that hides advanced controls, enlarges charts and
images, and puts a plain-language sentence under each view."""

from __future__ import annotations

import streamlit as st

from components.frame import page
from components.i18n import _
from components.state import get_state
from core.variables import extreme_values_note

PRESENTER_SCALE = 1.4
_PRESENTER_CSS = """
<style>
  [data-testid="stMain"] p, [data-testid="stMain"] li { font-size: 1.15rem; }
  [data-testid="stMain"] [data-testid="stCaptionContainer"] { font-size: 1.05rem; }
  [data-testid="stMain"] [data-testid="stMetricValue"] { font-size: clamp(1.9rem, 2.6vw, 2.6rem); }
  /* the paragraph rule above must not shrink the key numbers to the size of their labels */
  [data-testid="stMain"] [data-testid="stMetricValue"] p { font-size: inherit; }
  /* chart text is drawn by plotly with inline sizes of 12-14 px: readable from the back of a room */
  /* every axis (the accuracy chart's second one too), bar labels and a heatmap's numbers; not the legend,
     whose items plotly places for its own size (enlarged here they overlapped: "run 1: train—● run 1: te") */
  [data-testid="stPlotlyChart"] g[class$="tick"] text, [data-testid="stPlotlyChart"] .annotation-text,
  [data-testid="stPlotlyChart"] .textpoint text, [data-testid="stPlotlyChart"] .bartext,
  [data-testid="stPlotlyChart"] .heatmaplayer text {
    font-size: 16px !important;
  }
  [data-testid="stSidebar"] p, [data-testid="stSidebar"] li, [data-testid="stSidebar"] a span,
  [data-testid="stSidebar"] label { font-size: 1.1rem; }
  [data-testid="stMain"] code, [data-testid="stMain"] pre, [data-testid="stMain"] pre code { font-size: 1rem; }
  [data-testid="stPlotlyChart"] .g-xtitle text, [data-testid="stPlotlyChart"] .g-ytitle text,
  [data-testid="stPlotlyChart"] .gtitle { font-size: 18px !important; }
</style>
"""

#: Drawn in both modes: labels and buttons wrap between words instead of ending in "…" or breaking
#: mid-word ("activatio / n"), and the layer editor's icon buttons keep room for their icon.
_LAYOUT_CSS = """
<style>
  [data-testid="stMetricLabel"] .stMarkdownEllipsis, [data-testid="stMetricValue"] .stMarkdownEllipsis,
  [data-testid="stButton"] .stMarkdownEllipsis, [data-testid="stFormSubmitButton"] .stMarkdownEllipsis,
  [data-testid="stWidgetLabel"] .stMarkdownEllipsis, [data-testid="stMetricLabel"] .stMarkdownEllipsis p,
  [data-testid="stButton"] .stMarkdownEllipsis p, [data-testid="stFormSubmitButton"] .stMarkdownEllipsis p,
  [data-testid="stWidgetLabel"] .stMarkdownEllipsis p {
    white-space: normal; overflow: visible; text-overflow: clip; overflow-wrap: normal; word-break: normal;
  }
  [data-testid="stMetricLabel"], [data-testid="stMetricLabel"] > div { overflow: visible; }
  [data-testid="stMetricValue"] p { white-space: normal; overflow-wrap: normal; line-height: 1.15; }
  /* a key number never breaks inside a word ("535,81 / 8"): it wraps between words and is sized to fit its
     column at 1280 px, large as the screen allows */
  [data-testid="stMetricValue"], [data-testid="stMetricValue"] * { word-break: keep-all; overflow-wrap: normal; }
  [data-testid="stMain"] [data-testid="stMetricValue"] { font-size: clamp(1.9rem, 2.35vw, 2.25rem); }
  [data-testid="stButton"] button, [data-testid="stFormSubmitButton"] button { height: auto; }
  /* on a phone Streamlit stacks columns: a layer row became five controls one under the other, and the
     rows after the first had no labels; keep each row on one line, its labels (on the first row) above */
  @media (max-width: 640px) {
    [data-testid="stHorizontalBlock"]:has([class*="-width-v"]):not(:has([data-testid="stHorizontalBlock"])) {
      flex-wrap: nowrap; gap: 0.2rem;
    }
    [data-testid="stHorizontalBlock"]:has([class*="-width-v"]):not(:has([data-testid="stHorizontalBlock"]))
      > [data-testid="stColumn"] { min-width: 0 !important; }
    /* the Results page's answered images: three to a row, not twelve one under the other */
    .st-key-results-answers [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
    .st-key-results-answers [data-testid="stColumn"] {
      min-width: 0 !important; flex: 0 0 calc(33.3% - 0.7rem) !important;
    }
    .st-key-results-answers [data-testid="stImage"] img { max-width: 100%; height: auto; }
    /* big enough for a finger (a tap target of 44 px): each choice of a radio; and a help icon (16 px), whose
       tap area grows to 32 px around it without moving anything */
    [data-testid="stRadio"] [role="radiogroup"] label { min-height: 44px; align-items: center; }
    [data-testid="stTooltipHoverTarget"] { position: relative; }
    [data-testid="stTooltipHoverTarget"]::after { content: ""; position: absolute; inset: -8px; }
    /* plotly's toolbar shows after any tap on a touch screen and then covers the chart's title; double-tap
       resets a zoom, and Streamlit's own toolbar still opens the chart full screen */
    [data-testid="stPlotlyChart"] .modebar-container { display: none; }
  }
  /* the path in the sidebar wraps instead of ending in "…" ("3. See what it learned ← ne…") */
  [data-testid="stSidebar"] [data-testid="stPageLink"] a * {
    white-space: normal; overflow: visible; text-overflow: clip;
  }
  /* the layer editor's short labels break between words only: "Conv / チャネル", never "Conv チ / ャネル" */
  [class*="st-key-build-"] [data-testid="stWidgetLabel"] * { word-break: keep-all; }
  [class*="st-key-build-"][class*="-up-v"] button, [class*="st-key-build-"][class*="-down-v"] button,
  [class*="st-key-build-"][class*="-remove-v"] button {
    padding-left: 0.3rem; padding-right: 0.3rem; min-width: 2.25rem;
  }
</style>
"""


def presenter() -> bool:
    return get_state().presenter


def advanced() -> bool:
    """Whether to draw controls a newcomer does not need (seeds, batch size, optimizer internals)."""
    return not get_state().presenter


def height(base: int) -> int:
    """A chart height, taller in presenter mode."""
    return int(base * PRESENTER_SCALE) if presenter() else base


def image_scale(base: int = 3) -> int:
    """How many screen pixels per image pixel."""
    return base + 2 if presenter() else base


def explain(text: str) -> None:
    """The sentence under a view: a caption normally, a highlighted sentence in presenter mode."""
    if presenter():
        st.info(text, icon=":material/lightbulb:")
    else:
        st.caption(text)


def extreme_values_notice(params) -> None:
    """A note above a page that draws a model whose weights are extreme (``core.variables.extreme_values_note``)."""
    if (note := extreme_values_note(params)) is not None:
        st.info(_(note), icon=":material/warning:")


def not_trained_yet(model: str, without_training: str, once_trained: str) -> None:
    """The notice of a page that needs a trained model: what it would show untrained, what it
    shows once trained, and a link to the Train page."""
    st.info(
        _("**{model}** has not been trained yet, so {without_training}. Train it first; this page then "
          "{once_trained}.").format(model=model, without_training=_(without_training), once_trained=_(once_trained)),
        icon=":material/school:",
    )  # fmt: skip
    st.page_link(page("pages/train.py"), label=_("Go to Train →"), icon=":material/show_chart:")


def apply_presenter_style() -> None:
    st.html(_LAYOUT_CSS)
    if presenter():
        st.html(_PRESENTER_CSS)
