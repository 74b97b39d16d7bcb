"""Strangers' text in a real browser: a crafted shareable link and an uploaded checkpoint whose dataset name
is a markdown link are shown as typed, and nothing in the page is a link or an image they brought."""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

import pytest

from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.browser_support import goto, no_exception, open_page, wait_idle
from testkit.support import HOSTILE
from testkit.waits import HANG_S

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: what the strangers' text would make of the page: links and images to their host ("h"), their HTML
BROUGHT = 'a[href*="//h"], a[href*="h.com"], a[href^="mailto:"], img[src*="//h"], img[src="x"], [data-testid="stApp"] b'


def shown_text(page, testid: str) -> str:
    """The text of the page's ``testid`` elements as a person reads it (the invisible word joiners left out)."""
    return "\n".join(page.locator(f'[data-testid="{testid}"]').all_inner_texts()).replace("\u2060", "")


def assert_nothing_brought(page) -> None:
    assert page.locator(BROUGHT).count() == 0, page.locator(BROUGHT).evaluate_all("els => els.map(e => e.outerHTML)")
    no_exception(page)


@pytest.mark.parametrize("kind", ["link", "image", "url", "www", "email", "html"])
def test_a_crafted_link_is_refused_and_quoted_as_typed(page, server, kind):
    value = HOSTILE[kind]
    goto(page, f"{server}/?opt={quote(value, safe='')}")
    alerts = shown_text(page, "stAlert")
    assert "This link's settings were not valid" in alerts and value in alerts, alerts
    assert_nothing_brought(page)


def test_an_uploaded_checkpoint_with_a_markdown_link_for_a_dataset_name(page, server, small, tmp_path):
    name = " ".join(HOSTILE[kind] for kind in ("link", "image", "www", "email"))  # 75 characters: not cut
    result = train(ModelSpec.mlp((16,)), TrainConfig(epochs=1, batch_size=64), small)
    path = tmp_path / "[Log in](h).msgpack"
    path.write_bytes(checkpoint.to_bytes(dataclasses.replace(result, dataset=name)))
    goto(page, f"{server}/train")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').last.set_input_files(str(path))
    page.get_by_text("loaded from [Log in](h).msgpack").first.wait_for(timeout=HANG_S * 1000)
    wait_idle(page)
    assert_nothing_brought(page)
    open_page(page, "Results")
    warning = shown_text(page, "stAlert")
    assert f"The run's data ({name}) is not available here" in warning, warning
    assert_nothing_brought(page)
