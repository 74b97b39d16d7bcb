"""Issue 31 in Chromium: every page read in Japanese (``?lang=ja``), normal and in presenter mode, at a
1280x720 projector size, shows no English word outside the names every language keeps (flax, MNIST,
ReLU, ...; code excluded), cuts no text short, lets nothing overflow the page and raises no exception.

One test per page and mode, so a translator runs one page alone: ``pytest tests/browser/test_japanese.py -k build``.
A failure lists each English word with the text it was found in.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.frame import PAGE_FILES
from testkit.browser_support import goto, no_exception, screenshot, wait_idle
from testkit.waits import HANG_S

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECTOR = {"width": 1280, "height": 720}
#: each page's URL path (the first page is the root) and its name in the test ids (``-k build``)
PAGES = {Path(path).stem: "" if i == 0 else Path(path).stem for i, path in enumerate(PAGE_FILES)}

#: Names that stay as they are in Japanese text: libraries, datasets, layer, activation and optimizer
#: names, file formats and units. A word is allowed in any case (``relu``, ``ReLU``).
ALLOWED = {word.lower() for word in (
    "flax", "JAX", "NNX", "linen", "optax", "numpy", "Python", "Streamlit", "plotly", "ONNX", "treescope", "msgpack",
    "MNIST", "Fashion-MNIST", "KMNIST", "EMNIST", "tfds", "IDX", "npz", "zip", "PNG", "JSON", "CSV", "HTML",
    "MLP", "CNN", "PCA",
    "ReLU", "GELU", "SiLU", "ELU", "tanh", "sigmoid", "softmax", "leaky_relu",
    "Dense", "Conv", "ConvTranspose", "BatchNorm", "LayerNorm", "Dropout", "MaxPool", "AvgPool",
    "Adam", "AdamW", "SGD", "RMSProp", "MSE", "BCE",
    "CPU", "GPU", "TPU", "CUDA", "NVIDIA", "RAM", "MB", "GB", "KB", "kB", "ms", "px", "MiB", "GiB",
    "Enter", "Esc", "Shift",  # keys on the keyboard
    "float32", "uint8", "params", "batch_stats", "kernel", "bias", "pytree", "mlxtend",  # names in flax and code
)}  # fmt: skip
#: The language choice names each language in itself, so that anyone finds theirs ("Language / 言語").
ALLOWED |= {"language", "english"}

#: the visible text of the main area and the sidebar, text node by text node, without code blocks; the
#: placeholder of an empty field and the chosen option of a selectbox (drawn from the field's value)
VISIBLE_TEXTS = """() => {
  const skip = 'pre, code, [data-testid="stCode"], [data-testid="stJson"], .modebar-container, '
    + '[data-testid="stIconMaterial"], '  // st.json: a variables tree, flax's own keys and dtypes (code)
    + '[role="img"][translate="no"], [aria-hidden="true"][translate="no"]';  // icons are written as names
  const out = [];
  for (const root of document.querySelectorAll('[data-testid="stMain"], [data-testid="stSidebar"]')) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode, el = node.parentElement;
      if (!node.textContent.trim() || !el || el.closest(skip)) continue;
      if (!el.checkVisibility({visibilityProperty: true})) continue;
      out.push(node.textContent.trim());
    }
    for (const field of root.querySelectorAll('input, textarea')) {
      if (!field.checkVisibility()) continue;
      if (!field.value && field.placeholder.trim()) out.push(field.placeholder.trim());  // shown while empty
      if (field.getAttribute('role') === 'combobox' && field.value) out.push(field.value);  // a chosen option
    }
  }
  return out;
}"""
#: Text Streamlit cuts with "…" when it does not fit (metric labels and values, buttons, widget labels,
#: tabs), and visible text boxes wider than their own box while hiding the rest.
CUT_TEXT = """() => {
  const cut = Array.from(document.querySelectorAll(
      '[data-testid="stMetricLabel"] .stMarkdownEllipsis, [data-testid="stMetricValue"] .stMarkdownEllipsis, '
      + '[data-testid="stButton"] .stMarkdownEllipsis, [data-testid="stWidgetLabel"] .stMarkdownEllipsis, '
      + '[data-baseweb="tab"] p, [data-testid="stSidebarNavLink"] span, [data-testid="stExpander"] summary p'))
    .filter(e => e.checkVisibility() && e.scrollWidth > e.clientWidth + 1
                 && getComputedStyle(e).overflowX !== 'visible')
    .map(e => e.innerText);
  return cut;
}"""
#: Elements of the main area that stick out to the right of it (text that pushes the page wider).
OVERFLOW = """() => {
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  const right = main.getBoundingClientRect().right;
  return Array.from(main.querySelectorAll('p, li, span, label, h1, h2, h3, h4, button'))
    .filter(e => e.checkVisibility() && e.getBoundingClientRect().width > 0
                 && e.getBoundingClientRect().right > right + 2 && !e.closest('[data-testid="stCode"], pre'))
    .map(e => e.innerText.slice(0, 80));
}"""


def english_words(texts: list[str]) -> dict[str, list[str]]:
    """Each text of ``texts`` with words in Latin letters that are not allowed names, and those words."""
    found: dict[str, list[str]] = {}
    for text in texts:
        # a path (a folder on the server, a file) is a value from outside, kept as it is
        for word in re.findall(r"(?<![0-9])[A-Za-z][A-Za-z0-9'_\-]*", re.sub(r"\S*/\S*", " ", text)):
            word = word.strip("-'_")
            if len(word) < 2 and word not in ("a", "A", "I"):
                continue  # axis letters, units (s, x, n)
            if word.lower() not in ALLOWED:
                found.setdefault(text[:160], []).append(word)
    return found


def test_english_words_are_found_and_names_are_not():
    words = english_words(
        [
            "学習 2: 完了",
            "Dense 層 3 個",
            "Train the model",
            "ReLU, relu と Fashion-MNIST",
            "1e-3",
            "（/tmp/runs-x）",
            "float32",
        ]
    )
    assert words == {"Train the model": ["Train", "the", "model"]}


#: marks the first element of the sidebar's menu whose own text is Japanese (the page names)
MARK_JAPANESE = """() => {
  for (const el of document.querySelectorAll('[data-testid="stSidebarNav"] *')) {
    const own = Array.from(el.childNodes).filter(n => n.nodeType === Node.TEXT_NODE).map(n => n.textContent).join('');
    if (/[\\u3040-\\u30ff\\u4e00-\\u9fff]/.test(own)) { el.setAttribute('data-japanese', ''); return own; }
  }
  return null;
}"""


def _check(page, name: str) -> None:
    no_exception(page)
    assert page.evaluate(MARK_JAPANESE), "the menu shows no Japanese"
    fonts = _fonts_used(page, "[data-japanese]")
    assert "Noto Sans CJK JP" in fonts, fonts  # the Japanese forms of kanji, not the Chinese ones
    words = english_words(page.evaluate(VISIBLE_TEXTS))
    screenshot(page, f"ja-{name}")
    assert words == {}, f"{len(words)} texts with English words in the Japanese page:\n" + "\n".join(
        f"  {text!r}: {', '.join(found)}" for text, found in words.items()
    )
    assert page.evaluate(CUT_TEXT) == [], "text cut short"
    assert page.evaluate(OVERFLOW) == [], "text sticking out of the page"


@pytest.fixture
def projector(browser):
    context = browser.new_context(viewport=PROJECTOR, locale="ja-JP")
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("presenter", [False, True], ids=["normal", "presenter"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_reads_in_japanese_at_1280x720(projector, server, name, presenter):
    goto(projector, f"{server}/{PAGES[name]}?lang=ja")
    if presenter:
        projector.locator('[data-testid="stSidebar"]').get_by_text("発表モード").click()
        wait_idle(projector)
    _check(projector, f"{name}-{'presenter' if presenter else 'normal'}")


#: the fonts Chromium drew an element's own text with (DevTools' CSS.getPlatformFontsForNode)
def _fonts_used(page, selector: str) -> list[str]:
    session = page.context.new_cdp_session(page)
    session.send("DOM.enable")
    session.send("CSS.enable")
    root = session.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = session.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return [font["familyName"] for font in fonts]


def test_the_japanese_report_opens_offline_in_japanese_with_a_font_for_kana_and_kanji(browser, small, tmp_path):
    from components.report import run_report
    from core.spec import ModelSpec
    from core.training import TrainConfig, train

    result = train(ModelSpec.mlp((32,)), TrainConfig(epochs=1), small)
    report = tmp_path / "report.html"
    report.write_text(run_report(result, small, "学習 1: テスト画像の予測", language="ja"), encoding="utf-8")
    context = browser.new_context(offline=True, viewport=PROJECTOR)
    viewer = context.new_page()
    asked: list[str] = []
    viewer.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else (
        asked.append(route.request.url), route.abort()))  # fmt: skip
    try:
        viewer.goto(report.as_uri())
        viewer.wait_for_selector(".js-plotly-plot .main-svg", timeout=HANG_S * 1000)
        assert asked == []  # nothing fetched from anywhere: it opens offline
        assert viewer.evaluate("document.documentElement.lang") == "ja"
        assert viewer.locator(".js-plotly-plot").count() == 3  # loss, accuracy, confusion
        assert "学習 1: テスト画像の予測" in viewer.locator("h1").inner_text()
        fonts = _fonts_used(viewer, "h1")
        assert any("CJK" in font or "JP" in font for font in fonts), fonts  # kana and kanji drawn, not boxes
        chart_font = viewer.evaluate(
            "getComputedStyle(document.querySelector('.js-plotly-plot .xtick text')).fontFamily"
        )
        assert "Noto Sans CJK JP" in chart_font, chart_font
        viewer.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    finally:
        context.close()
