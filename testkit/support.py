"""Helpers shared by the AppTest and browser tests and the app benchmark (import as ``testkit.support``)."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from testkit.waits import HANG_S

STATE_KEY = "flax_dashboard.state"


def state(at: AppTest):
    """The visitor's AppState inside an AppTest session."""
    return at.session_state[STATE_KEY]


def select_trained(at: AppTest, result) -> int:
    """Put an already trained model (a TrainResult) in the session as the selected run; returns its run id."""
    app_state = state(at)
    run = app_state.add_run("trained in the test", "sample", loaded=result)
    app_state.selected_run_id = run.run_id
    app_state.set_spec(result.spec)
    return run.run_id


def wait_for_training(at: AppTest, timeout: float = HANG_S) -> None:
    """AppTest does not run timers: wait for the background jobs, then rerun the script."""
    deadline = time.monotonic() + timeout
    for run in state(at).runs:
        if run.job is not None:
            assert run.job.join(max(0.0, deadline - time.monotonic())), "training did not end in time"
    at.run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def text_input(at: AppTest, label: str):
    return next(t for t in at.text_input if t.label == label)


def open_tab(at: AppTest, key: str, label: str) -> None:
    """Open a lazy tab (``st.tabs(..., key=key, on_change="rerun")``) and rerun: only it is drawn."""
    at.session_state[key] = label
    at.run()


def is_number_text(text: str) -> bool:
    """Whether ``float(text)`` accepts it (for hypothesis filters of "not a number" inputs)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def open_variables(at: AppTest) -> None:
    """Switch to the Variables page once ``model.init`` of the current model is compiled: the page
    shows a notice and refreshes itself meanwhile, and AppTest does not run that refresh."""
    from core import models

    models.prepare_init(state(at).spec).result(600)  # guards a hang only: a busy machine compiles slowly
    at.switch_page("pages/variables.py").run()


#: what strangers may send as a link value, a file, folder or class name or a checkpoint's field: a markdown
#: link, an image, bare addresses, HTML, and a long line of markdown formatting (500 characters)
HOSTILE = {
    "link": "[Log in](http://h/login)",
    "image": "![x](http://h/b.png)",
    "url": "http://h/x",
    "www": "www.h.com/login",
    "email": "someone@h.com",
    "html": "<b>x</b><img src=x>",
    "long": "# " + ("**bold** _slanted_ ~~gone~~ " * 20)[:498],
}
#: words that formatting would show without their marks: on a page each may only follow its opening mark
FORMATTED_WORDS = ("[Log in", "**bold", "_slanted", "~~gone")
#: tags that only a stranger's text could bring (the product's own markdown makes none of them)
STRANGERS_TAGS = {"a", "img", "b", "del", "s", "h1", "script"}
# GitHub-flavoured markdown (Streamlit's, through remark-gfm) makes links of bare addresses in the text
# that is left once the escapes are read: in Chromium, Streamlit 1.67 links an escaped ``www\.h\.com`` and
# ``a\@h\.com`` (an escaped ``http\:\/\/`` it leaves alone, but this check refuses that too)
_BARE_ADDRESS = re.compile(r"(?:https?://|www\.)[-.\w]|[-.+\w]@[-\w]+\.[-\w]", re.IGNORECASE)
_GITHUB = MarkdownIt("commonmark", {"html": True}).enable(["strikethrough", "table"])
_MARKDOWN_ELEMENTS = ("markdown", "caption", "info", "warning", "error", "success", "title", "toast")
_LABELLED = ("selectbox", "multiselect", "radio", "button", "text_input", "number_input", "slider", "checkbox")
_LABELLED += ("toggle", "expander", "metric", "download_button")


class _Shown(HTMLParser):
    """The tags of a rendered page part, and the text a browser shows of it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.texts.append(data)


def as_github_shows(markdown: str) -> tuple[list[str], str]:
    """(the tags, the visible text) of ``markdown`` rendered as GitHub-flavoured markdown: CommonMark with raw
    HTML and strikethrough, then an ``a`` for every bare address left in a text once its escapes are read."""
    shown = _Shown()
    shown.feed(_GITHUB.render(markdown))
    links = ["a" for text in shown.texts if _BARE_ADDRESS.search(text)]
    return shown.tags + links, "".join(shown.texts).replace("\u2060", "")  # the word joiner is invisible


def shown(markdown: str) -> str:
    """The text a browser shows of ``markdown`` (escapes read, formatting gone), without the final newline."""
    return as_github_shows(markdown)[1].strip()


def page_texts(at: AppTest) -> tuple[list[str], list[str]]:
    """(every markdown the page sends: bodies, labels, help, metric values, radio options; every text it shows
    as typed: selectbox and multiselect options)."""
    markdown = [element.value for kind in _MARKDOWN_ELEMENTS for element in at.get(kind)]
    typed = []
    for kind in _LABELLED:
        for element in at.get(kind):
            markdown += [getattr(element, name, None) or "" for name in ("label", "help")]
            if kind == "metric":
                markdown.append(element.value)
            elif kind == "radio":
                markdown += [str(option) for option in element.options]
            elif hasattr(element, "options"):
                typed += [str(option) for option in element.options]
    return markdown, typed


def assert_shown_as_typed(at: AppTest, value: str, shown: str | None = None, echoed: bool = True) -> None:
    """Nothing on the page is a link, an image, HTML or formatting that ``value`` (a stranger's) brought, and
    (``echoed``) the page shows it as typed, cut short if long (``shown``: as the product quotes it, if not
    as typed, e.g. a folder's path normalised)."""
    typed_start = " ".join((shown or value).split())[:15]
    markdown, typed = page_texts(at)
    texts = []
    for body in markdown:
        tags, text = as_github_shows(body)
        assert not STRANGERS_TAGS & set(tags), (body, tags)
        texts.append(text)
    texts += typed
    assert not echoed or any(typed_start in text for text in texts), f"{typed_start!r} is not shown: {texts}"
    for text in texts:
        for marked in FORMATTED_WORDS:
            word = marked.lstrip("[*_~")
            assert text.count(word) == text.count(marked), (marked, text)
        if len(value) > 300:
            assert " ".join(value.split()) not in text, "a long value is shown whole"
