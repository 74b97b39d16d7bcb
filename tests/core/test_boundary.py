import ast
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.waits import HANG_S

ROOT = Path(__file__).resolve().parents[2]


def test_core_never_imports_streamlit():
    code = (
        "import sys, pkgutil, importlib, core\n"
        "for m in pkgutil.iter_modules(core.__path__):\n"
        "    if m.name.startswith('__'): continue\n"
        "    importlib.import_module('core.' + m.name)\n"
        "assert 'streamlit' not in sys.modules, 'core imported streamlit'\n"
        "print('ok', len(list(pkgutil.iter_modules(core.__path__))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=HANG_S)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")
    assert int(proc.stdout.split()[1]) >= 8


def test_device_summary_names_what_jax_uses():
    import jax

    from core.jax_setup import device_summary

    summary = device_summary()
    assert summary.startswith(f"{jax.local_device_count()} {jax.devices()[0].platform.upper()} device")


# ----- only the public API of the JAX libraries -----------------------------------------------

LIBRARIES = {
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "orbax",
    "chex",
    "treescope",
    "tensorflow_datasets",
    "streamlit",
    "plotly",
    "requests",
    "numpy",
    "PIL",
    "absl",
    "array_record",
}
INTERNAL_MODULES = ("jax.extend", "jax.interpreters", "jax.lib", "jaxlib")  # primitives, lowering, C++
SCANNED = ("core", "components", "pages", "benchmarks", "scripts", "testkit", "tests", "app.py")
# A module path through one of these packages is the library's internals, not its documented API
# (``tensorflow_datasets.core.download.checksums``, ``streamlit.runtime.scriptrunner``) ...
INTERNAL_PACKAGES = {"tensorflow_datasets", "streamlit", "flax", "jax", "optax"}
INTERNAL_PARTS = {"core", "runtime"}
TFDS_ISSUE = "https://github.com/tensorflow/datasets/issues/11212"
ST_SESSION_ISSUE = "https://github.com/streamlit/streamlit/issues/6545"
ST_UPLOAD_ISSUE = "https://github.com/streamlit/streamlit/issues/9218"
# ... unless named here: {module path (it and what it contains): (why, documentation or upstream issue)}.
ALLOW_LIST: dict[str, tuple[str, str]] = {
    "tensorflow_datasets.core.tfds_path": (
        "documented as tfds.core.tfds_path: where tfds keeps its registered url_checksums files",
        "https://www.tensorflow.org/datasets/api_docs/python/tfds/core/tfds_path",
    ),
    "tensorflow_datasets.core.download.checksums": (
        "no public reader of a dataset's registered checksums (UrlInfo); the documented builder_cls(...).url_infos "
        "fails without importlib_resources, which tfds does not declare",
        TFDS_ISSUE,
    ),
    "tensorflow_datasets.core.download.resource": (
        "no public way to ask whether tfds.download.DownloadManager would serve a URL from its cache; "
        "needed to skip the network probe when nothing is to be downloaded",
        "https://www.tensorflow.org/datasets/api_docs/python/tfds/download/DownloadManager",
    ),
    "tensorflow_datasets.core.download.download_manager.NonMatchingChecksumError": (
        "what DownloadManager.download raises on a checksum mismatch; tfds exports no name for it (it is not a "
        "tfds.download.DownloadError)",
        "https://www.tensorflow.org/datasets/overview#fixing_nonmatchingchecksumerror",
    ),
    "streamlit.runtime.uploaded_file_manager.UploadedFile": (
        "the documented return type of st.file_uploader, only importable from there",
        "https://docs.streamlit.io/develop/api-reference/widgets/st.file_uploader",
    ),
    "streamlit.runtime.scriptrunner.get_script_run_ctx": (
        "no public session id (st.context has headers, cookies, url; none names the session), and no public "
        "removal of an upload's bytes (ctx.uploaded_file_mgr.remove_file)",
        f"{ST_SESSION_ISSUE} {ST_UPLOAD_ISSUE}",
    ),
    "streamlit.runtime.exists": ("no public 'is a Streamlit server running' check", ST_SESSION_ISSUE),
    "streamlit.runtime.Runtime.instance": (
        "no public 'is this session's tab still open' check for a background thread (is_active_session)",
        ST_SESSION_ISSUE,
    ),
}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def _internal(dotted: str) -> str | None:
    """Why a dotted name is not the libraries' public API, or None when it is."""
    parts = dotted.split(".")
    if parts[0] not in LIBRARIES:
        return None
    if any(_is_private(part) for part in parts):
        return "private name"
    if any(dotted == module or dotted.startswith(module + ".") for module in INTERNAL_MODULES):
        return "internal module"
    if parts[0] == "jax" and parts[-1].endswith("_p"):
        return "internal primitive"
    if parts[0] in INTERNAL_PACKAGES and INTERNAL_PARTS & set(parts[1:]) and not _allowed(dotted):
        return "internal module path, not in ALLOW_LIST"
    return None


def _allowed(dotted: str) -> bool:
    """``dotted`` is an allow-listed path, something inside one, or a package on the way to one
    (``from streamlit import runtime`` then ``runtime.exists``: each use is checked on its own)."""
    return any(dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + ".") for key in ALLOW_LIST)


def internal_uses(source: str) -> list[str]:
    """Every import of, and attribute access to, a private or internal name of a JAX library:
    ``from flax.core.scope import _fold_in_static``, ``jax._src...``, ``threefry2x32_p``."""
    tree = ast.parse(source)
    imported: dict[str, str] = {}  # local name -> dotted name it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                imported[local] = alias.name if alias.asname else local
                found.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                found.append((node.lineno, f"{node.module}.{alias.name}"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            attrs, root = [], node
            while isinstance(root, ast.Attribute):
                attrs.insert(0, root.attr)
                root = root.value
            if isinstance(root, ast.Name) and root.id in imported:
                found.append((node.lineno, ".".join([imported[root.id], *attrs])))
    return sorted({f"line {line}: {dotted} ({why})" for line, dotted in found if (why := _internal(dotted))})


@pytest.mark.parametrize(
    ("source", "internal"),
    [
        ("from flax.core.scope import _fold_in_static", True),
        ("from jax.extend.random import threefry2x32_p", True),
        ("from jax._src import core", True),
        ("import jax._src.prng as prng", True),
        ("import jax\nx = jax._src.prng", True),
        ("import flax.linen as nn\nnn.module._ParentType", True),
        ("import jax\njax.extend.random.threefry2x32_p.bind(1)", True),
        ("import jax\nkey = jax.random.key(0)\nstate.opt_state._replace(count=1)", False),
        ("import flax.linen as nn\nfrom jax import numpy as jnp\nnn.Dense(3).path, jnp.zeros(2)", False),
        ("import jax\nprint(jax.__version__)", False),
        ("from tensorflow_datasets.core import constants", True),
        ("from tensorflow_datasets.core.download.download_manager import DownloadManager", True),
        ("import tensorflow_datasets as tfds\ntfds.core.utils.gcs_utils", True),
        ("from streamlit.runtime.scriptrunner_utils import script_run_context", True),
        ("from streamlit import runtime\nruntime.Runtime.instance().stop()", False),
        ("from streamlit import runtime\nruntime.get_instance()", True),
        ("import flax.core.scope", True),
        ("from tensorflow_datasets.core.download import checksums\nchecksums.load_url_infos", False),
        ("import tensorflow_datasets as tfds\ntfds.download.DownloadManager, tfds.core.tfds_path('x')", False),
        ("from streamlit.runtime.uploaded_file_manager import UploadedFile", False),
    ],
)
def test_the_scan_for_internal_names_finds_them(source, internal):
    assert bool(internal_uses(source)) is internal


def test_only_public_names_of_jax_flax_and_optax_are_used():
    """A private name (``_fold_in_static``) or an internal primitive (``threefry2x32_p``) can change
    or vanish in any release; the project builds on the libraries' documented API only."""
    files = [ROOT / name for name in SCANNED if (ROOT / name).is_file()]
    files += sorted(path for name in SCANNED if (ROOT / name).is_dir() for path in (ROOT / name).rglob("*.py"))
    assert len(files) > 20
    problems = [f"{path.relative_to(ROOT)} {use}" for path in files for use in internal_uses(path.read_text())]
    assert not problems, "\n".join(problems)


def test_every_allowed_internal_path_says_why_and_where():
    """Each exception names why no public API serves and the page or upstream issue that says so."""
    for path, (why, where) in ALLOW_LIST.items():
        assert path.split(".")[0] in INTERNAL_PACKAGES and INTERNAL_PARTS & set(path.split(".")[1:]), path
        assert len(why) > 30, path
        assert all(url.startswith("https://") for url in where.split()), path


# ----- helpers shared by tests, benchmarks and scripts live in testkit ---------------------------


def _imported_modules(path: Path) -> list[str]:
    """Every module an ``import`` or ``from ... import`` in ``path`` names, at any depth of the file."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_benchmarks_and_scripts_never_import_the_tests():
    """benchmarks/ and scripts/ take shared helpers from ``testkit``; the tests are not a library."""
    wrong = [
        f"{path.relative_to(ROOT)}: {name}"
        for folder in ("benchmarks", "scripts")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in _imported_modules(path)
        if name == "tests" or name.startswith("tests.")
    ]
    assert not wrong, wrong


def test_the_app_never_imports_testkit():
    """testkit serves tests, benchmarks and scripts; the app (core, components, pages, app.py) never needs it."""
    paths = [ROOT / "app.py", *(p for folder in ("core", "components", "pages") for p in (ROOT / folder).rglob("*.py"))]
    wrong = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted(paths)
        for name in _imported_modules(path)
        if name == "testkit" or name.startswith("testkit.")
    ]
    assert not wrong, wrong


@pytest.mark.parametrize("package", ["core", "core.data", "core.runs", "core.training"])
def test_each_package_docstring_names_all_its_modules(package):
    """A package's docstring is its map: every module file in it is named there (``name.py``)."""
    folder = ROOT.joinpath(*package.split("."))
    tree = ast.parse((folder / "__init__.py").read_text())
    docstring = ast.get_docstring(tree) or ""
    missing = [p.name for p in sorted(folder.glob("*.py")) if p.name != "__init__.py" and p.name not in docstring]
    assert not missing, f"{package}'s docstring does not name {missing}"


# ----- a kind is a type: no code compares a kind's name -------------------------------------------

#: comparisons with a kind's name that stay, and why
KIND_NAME_COMPARISONS_ALLOWED = {
    ("core/spec.py", "self.kind != self.name"): "a spec checks the kind its JSON or caller named",
    ("core/spec.py", "'dropout' in layer.rngs"): "the name of a random key, not of a kind",
    ("pages/build.py", "kind != state.kind"): "the Build page's kind switch noticing a new choice",
}


def kind_name_comparisons(root: Path) -> list[tuple[str, str]]:
    """Every comparison in core, components, pages and app.py with a kind's name ("mlp", "dense", "conv"...,
    a link's "ae") or with a ``.kind`` attribute: (file, code)."""
    from core.layer_kinds import LAYER_KINDS
    from core.spec import MODEL_KINDS

    names = {*LAYER_KINDS, *MODEL_KINDS, *(kind.link_name for kind in MODEL_KINDS.values())}
    files = [*root.glob("core/**/*.py"), *root.glob("components/**/*.py"), *root.glob("pages/**/*.py"), root / "app.py"]
    found = []
    for path in sorted(files):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            values = [*sides, *(e for s in sides if isinstance(s, (ast.Tuple, ast.List, ast.Set)) for e in s.elts)]
            texts = {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
            if texts & names or any(isinstance(s, ast.Attribute) and s.attr == "kind" for s in sides):
                found.append((path.relative_to(root).as_posix(), ast.unparse(node)))
    return found


def test_no_code_compares_a_kind_by_its_name():
    """A kind of model or layer is a type: code asks it (``isinstance``, its methods), never its name."""
    assert set(kind_name_comparisons(ROOT)) <= set(KIND_NAME_COMPARISONS_ALLOWED)
