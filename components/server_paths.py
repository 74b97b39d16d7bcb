"""The server's own folders, named by their role on pages seen from other computers.

A dashboard served beyond loopback shows its pages to strangers: the place of its runs folder, its
data roots or its temporary folder tells them about the server and is of no use to them, so every
such path in a page's text becomes its role ("the runs folder", "data root 1"). Served on loopback,
the person is on the server and the paths stay as they are.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from pathlib import Path

import streamlit as st

from components.i18n import N_, _
from core.data.archive import UPLOAD_ROOT
from core.runs import store

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DATA_ROOTS_VAR = "FLAX_DASHBOARD_DATA_ROOTS"
DEFAULT_DATA_ROOTS = ("/usr/share/datasets", "~/data", "~/tensorflow_datasets")
# a path ends where a file name cannot go on: ``/tmp`` is not the start of ``/tmpfiles``
_NAME_CHAR = r"[\w.~+-]"
_BEFORE_PATH = r"[\w.~+/-]"


def served_to_others() -> bool:
    """Whether the server listens beyond this computer (Streamlit's ``server.address``; empty = everywhere)."""
    return str(st.get_option("server.address") or "") not in LOOPBACK


def configured_data_roots() -> tuple[str, ...]:
    """The data roots as configured (``FLAX_DASHBOARD_DATA_ROOTS``, ``os.pathsep``-separated), else the defaults."""
    configured = os.environ.get(DATA_ROOTS_VAR)
    return tuple(p for p in configured.split(os.pathsep) if p) if configured is not None else DEFAULT_DATA_ROOTS


def folder_roles() -> dict[str, str]:
    """{a server folder's path, as written and as resolved: its role}, most specific folder first; made once
    per runs folder, data roots and working folder (every ``plain`` of a page served to others asks)."""
    return _folder_roles(*_roles_key())[0]


def _roles_key() -> tuple[str, str | None, str, str | None]:
    return str(store.runs_dir()), os.environ.get(DATA_ROOTS_VAR), os.getcwd(), os.environ.get("HOME")


@functools.lru_cache(maxsize=8)
def _folder_roles(runs: str, data_roots: str | None, cwd: str, home: str | None) -> tuple[dict[str, str], re.Pattern]:
    """The roles and the pattern that finds their paths in a text (the arguments only key the cache)."""
    named = [
        (Path(runs), N_("the runs folder")),
        *((Path(root), f"data root {n}") for n, root in enumerate(configured_data_roots(), start=1)),
        (UPLOAD_ROOT, N_("the uploads folder")),
        (Path(tempfile.gettempdir()), N_("the temporary folder")),
        (Path(cwd), N_("the app folder")),
        (Path.home(), N_("the home folder")),
    ]
    roles: dict[str, str] = {}
    for folder, role in named:
        folder = folder.expanduser()
        for form in (folder.absolute(), folder.resolve()):
            if len(form.parts) > 1:  # never the root "/" itself, which starts every path
                roles.setdefault(str(form), role)
    roles = dict(sorted(roles.items(), key=lambda item: -len(item[0])))
    alternatives = "|".join(re.escape(path) for path in roles)
    return roles, re.compile(rf"(?<!{_BEFORE_PATH})({alternatives})(?!{_NAME_CHAR})")


def hide_server_paths(text: str) -> str:
    """``text`` with every server folder named by its role when served to others (in the visitor's language;
    "data root 1" stays as it is, since a visitor may type it back); unchanged on loopback."""
    if not served_to_others():
        return text
    roles, pattern = _folder_roles(*_roles_key())
    return pattern.sub(lambda m: _(roles[m.group(1)]), text)


def folder_words(folder: str | Path, role: str) -> str:
    """A server folder for a page: its path on loopback, its role when served to others."""
    return _(role) if served_to_others() else str(folder)


def typed_folder(text: str) -> str:
    """A folder a visitor typed, where a data root's role at its start ("data root 1/fashion-mnist", what a
    page served to others shows for ``/usr/share/datasets/fashion-mnist``) stands for that root's path."""
    if not served_to_others():
        return text
    for root, role in folder_roles().items():
        if role.startswith("data root") and (text == role or text.startswith(role + "/")):
            return root + text[len(role) :]
    return text
