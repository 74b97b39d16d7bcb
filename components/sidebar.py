"""The sidebar on every page: the current model, the dataset and the training status.

It also carries the two small scripts every page needs in the browser (folding the sidebar on a
phone after a link, keeping each page's scroll offset), since the sidebar is drawn on every page."""

from __future__ import annotations

import streamlit as st

from components.frame import page
from components.i18n import N_, _, language_select, ngettext
from components.run_views import final_score, sidebar_progress_text
from components.state import AppState, get_state
from components.sweep_views import sweep_progress_text
from components.words import plain, status_words
from core.data import dataset_title
from core.glossary import GLOSSARY
from core.jax_setup import device_summary
from core.layers import Dense
from core.runs.jobs import SLOTS
from core.spec import ModelSpec

#: How often the live parts of every page (sidebar, Train, Sweep) refresh while a job runs, in seconds.
POLL_SECONDS = 1.0


STEPS = (
    ("pages/build.py", "Build", N_("Build a model")),
    ("pages/train.py", "Train", N_("Train it")),
    ("pages/results.py", "Results", N_("See what it learned")),
)


def _set_presenter() -> None:
    state = get_state()
    state.presenter = bool(st.session_state["sidebar.presenter"])


#: on a phone the sidebar lies over the page; Streamlit folds it away after a click in its menu only when
#: the browser calls itself a phone (its user agent), not in a narrow window, and never after a click on a
#: page link in it ("Your path"): either left the sidebar over 300 of 390 px, hiding the page it opened.
#: Fold it after such a click on a narrow screen, unless Streamlit has folded it already.
FOLD_SIDEBAR_ON_PHONE = """<script>
if (!window.foldSidebarAfterPageLink) {
  window.foldSidebarAfterPageLink = true;
  document.addEventListener("click", (event) => {
    const link = event.target.closest(
      '[data-testid="stSidebar"] [data-testid="stPageLink"] a, [data-testid="stSidebarNav"] a');
    if (!link || !window.matchMedia("(max-width: 768px)").matches) return;
    setTimeout(() => {
      const sidebar = document.querySelector('[data-testid="stSidebar"]');
      const fold = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
      if (sidebar && sidebar.getAttribute("data-collapsed") === "false" && fold) fold.click();
    }, 50);
  }, true);
}
</script>"""

#: Streamlit empties its main area when the visitor opens another page, so coming back to a page
#: showed its top again. Keep each page's offset per browser tab (sessionStorage, by page path) and
#: go back to it once the returning page is drawn tall enough; give up after a few seconds, and at
#: once when the visitor scrolls, clicks or types meanwhile. The main area scrolls, not the window.
KEEP_SCROLL_PER_PAGE = """<script>
if (!window.keepScrollPerPage) {
  window.keepScrollPerPage = true;
  const MAIN = '[data-testid="stMain"]';
  const GIVE_UP_MS = 5000;
  const key = (path) => "flax-dashboard.scroll:" + path;
  let shown = null, last = 0, restore = null;
  const arrive = () => {
    shown = location.pathname;
    const target = Number(sessionStorage.getItem(key(shown))) || 0;
    restore = target > 0 ? {target, until: performance.now() + GIVE_UP_MS} : null;
    const main = document.querySelector(MAIN);
    // a page not scrolled before opens at its top, also while the last page is still drawn (a busy server)
    if (main && target === 0) main.scrollTop = 0;
    last = main ? main.scrollTop : 0;
  };
  const follow = () => {
    if (location.pathname !== shown) arrive();
    if (!restore) return;
    const main = document.querySelector(MAIN);
    if (!main || performance.now() > restore.until) {
      restore = null;
    } else if (main.scrollHeight - main.clientHeight >= restore.target) {
      main.scrollTop = restore.target;
      restore = null;
    }
  };
  document.addEventListener("scroll", (event) => {
    const main = event.target;
    if (!(main instanceof Element) || !main.matches(MAIN)) return;
    follow();
    if (restore) return;
    const top = main.scrollTop;
    // a page emptied or redrawn shorter pulls the offset down to its new end: not the visitor's doing
    const pulledToEnd = top < last && top >= main.scrollHeight - main.clientHeight - 1;
    if (!pulledToEnd) sessionStorage.setItem(key(shown), String(Math.round(top)));
    last = top;
  }, true);
  // the visitor moves the page themselves: the wheel, a finger or the scroll bar over it, or a key
  const visitorActs = (event) => {
    const onPage = event.target instanceof Element && event.target.closest(MAIN);
    if (onPage || event.type === "keydown") restore = null;
  };
  for (const type of ["wheel", "touchstart", "mousedown", "keydown"]) {
    document.addEventListener(type, visitorActs, {capture: true, passive: true});
  }
  setInterval(follow, 50);
  follow();
}
</script>"""


def guided_path(state: AppState) -> None:
    """Build -> Train -> See, with the next step highlighted; every step stays clickable."""
    swept = state.sweep.job is not None
    done = {
        # opening the page is not building: an edit, a preset, training or sweeping the default model, or
        # going on to another page with the model that is ready counts
        "Build": state.previous_spec is not None or bool(state.runs) or swept or bool(state.visited - {"Build"}),
        "Train": state.trained_run() is not None or swept,
        "Results": "Results" in state.visited and state.trained_run() is not None,
    }
    following = next((title for _path, title, _words in STEPS if not done[title]), None)
    st.markdown("#### " + _("Your path"))
    # our own scripts, no visitor's text; in one element, as each element adds a gap to the sidebar
    st.html(FOLD_SIDEBAR_ON_PHONE + KEEP_SCROLL_PER_PAGE, unsafe_allow_javascript=True)
    for number, (path, title, english) in enumerate(STEPS, start=1):
        words = _(english)
        if done[title]:
            st.page_link(page(path), label=f"{number}. {words}", icon=":material/check_circle:")
        elif title == following:
            st.page_link(
                page(path),
                label=_("**{number}. {step}** ← next").format(number=number, step=words),
                icon=":material/arrow_forward:",
            )
        else:
            st.page_link(page(path), label=f"{number}. {words}", icon=":material/radio_button_unchecked:")


#: The glossary's words each page uses (core.glossary): presenter mode lists their meanings in the sidebar.
PAGE_TERMS = {
    "Build": (
        "Dense",
        "units",
        "MLP",
        "relu",
        "activation",
        "parameters",
        "code",
        "batch",
        "adam",
        "bias",
        "kernel",
        "epochs",
    ),
    "Variables": (
        "params",
        "collection",
        "pytrees",
        "float32",
        "kernel",
        "bias",
        "parameters",
        "Dense",
        "units",
        "code",
        "batch",
        "activation",
        "relu",
        "MLP",
        "seeds",
    ),
    "Train": (
        "epochs",
        "learning rate",
        "L2 penalty",
        "input noise",
        "cross-entropy",
        "batch",
        "adam",
        "compile time",
        "checkpoint",
        "parameters",
        "seeds",
        "stratified",
        "MLP",
        "units",
        "Dense",
        "relu",
    ),
    "Results": ("cross-entropy", "latent space", "PCA", "code", "parameters", "MLP", "units", "Dense", "relu"),
    "Inside": ("units", "Dense", "activation", "relu", "kernel", "bias", "MLP", "parameters", "code"),
    "Width sweep": (
        "seeds",
        "units",
        "parameters",
        "epochs",
        "batch",
        "stratified",
        "MLP",
        "Dense",
        "relu",
        "learning rate",
        "adam",
        "L2 penalty",
        "input noise",
        "activation",
        "code",
    ),
    "Explore": ("latent space", "PCA", "code", "MLP", "units", "Dense", "relu", "parameters"),
    "Draw": ("MLP", "units", "Dense", "relu", "parameters", "code"),
}


def words_on_this_page(title: str) -> None:
    """Presenter mode: the plain meaning of each glossary word the page uses, at hand in the sidebar."""
    terms = [term for term in GLOSSARY if term in PAGE_TERMS.get(title, ())]
    if not terms:
        return
    with st.expander(_("Words on this page"), icon=":material/menu_book:"):
        st.markdown("\n".join(f"- **{_(term)}**: {_(GLOSSARY[term])}" for term in terms))


def parameters_text(spec: ModelSpec) -> str:
    """The model's parameter count and the layers that hold them, counted by kind as the model applies them:
    "421,642 parameters (numbers the model learns) in 2 Conv layers, 2 Dense layers"."""
    counts: dict[type, int] = {}
    for placed in spec.layer_shapes():
        if placed.parameters:
            counts[type(placed.layer)] = counts.get(type(placed.layer), 0) + 1
    if list(counts) == [Dense]:  # a plain MLP or autoencoder
        layers = counts[Dense]
        counted = ngettext(
            "{count:,} parameters (numbers the model learns) in {layers} Dense layer",
            "{count:,} parameters (numbers the model learns) in {layers} Dense layers",
            layers,
        )
        return counted.format(count=spec.parameter_count, layers=layers)
    kinds = _(", ").join(
        ngettext("{count} {kind} layer", "{count} {kind} layers", count).format(count=count, kind=kind.title)
        for kind, count in counts.items()
    )
    return _("{count:,} parameters (numbers the model learns) in {layers}").format(
        count=spec.parameter_count, layers=kinds
    )


def sidebar(title: str = "") -> None:
    state = get_state()
    spec = state.spec
    with st.sidebar:
        language_select()
        st.toggle(
            _("Presenter mode"), value=state.presenter, key="sidebar.presenter", on_change=_set_presenter,
            help=_("For showing the dashboard to others: fewer controls, bigger charts and images, "
                   "and a plain-language sentence under each view. The defaults keep working."),
        )  # fmt: skip
        if state.presenter:
            words_on_this_page(title)
        guided_path(state)
        st.markdown("#### " + _("Current model"))
        st.markdown(f"**{spec.describe()}**")
        st.caption(parameters_text(spec))
        st.markdown(_("Dataset: **{dataset}**").format(dataset=plain(dataset_title(state.dataset_name, gettext=_))))
        st.caption(
            _("Computing on: {devices}").format(devices=device_summary(ngettext)),
            help=_("The processors JAX found. With several, each batch is split between them (data parallel). "
                   "On a machine with an NVIDIA GPU, installing the CUDA build of jax makes it train there, "
                   "no change needed."),
        )  # fmt: skip
        _training_status(state.active_run is not None or state.sweep.active)


def _training_status(active: bool) -> None:
    @st.fragment(run_every=POLL_SECONDS if active else None)
    def status() -> None:
        state = get_state()
        run = state.active_run
        st.markdown("#### " + _("Training"))
        if state.sweep.active:
            snap = state.sweep.job.snapshot()
            st.progress(snap.progress, text=_("Width sweep: {progress:.0%}").format(progress=snap.progress))
            st.caption(sweep_progress_text(snap))
        if run is not None:
            snap = run.snapshot()
            st.progress(
                snap.progress, text=_("Run {run}: {progress:.0%}").format(run=run.run_id, progress=snap.progress)
            )
            st.caption(sidebar_progress_text(snap))
            return
        if state.sweep.active:
            return
        if active:  # it was training at the last full run and has just ended: redraw every page part
            st.rerun(scope="app")
        server_note = _("Trainings on this server: {running} running, at most {limit} at once.").format(
            running=SLOTS.running, limit=SLOTS.limit
        )
        last = state.runs[-1] if state.runs else None
        if last is None:
            st.caption(_("Idle: no model trained yet. Go to **Train** to teach the model."))
        else:
            score = final_score(last)
            said = _("Run {run}: {status}").format(run=last.run_id, status=status_words(last.status))
            st.caption(said + (f" · {score}" if score else ""))
        st.caption(server_note)

    status()
