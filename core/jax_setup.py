"""Process-wide JAX settings: the persistent compilation cache.

Compiling a training step takes a second or two on a laptop CPU; with the cache, the
same model compiles in a fraction of that after a restart. The folder is
``$FLAX_DASHBOARD_JAX_CACHE`` or ``~/.cache/flax-dashboard/jax``; set it to ``off`` to
disable the cache. A folder that cannot be created or written (the variable names a file, HOME is
read-only) is reported once and the tool runs without the cache: slower starts, nothing else lost.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import jax

ENV_VAR = "FLAX_DASHBOARD_JAX_CACHE"
_configured: str | None = None
_unusable: set[str] = set()  # folders already reported as unusable: warned about once, not retried
_lock = threading.Lock()
log = logging.getLogger(__name__)


def default_cache_dir() -> str:
    return str(Path.home() / ".cache" / "flax-dashboard" / "jax")


def enable_compilation_cache(cache_dir: str | None = None) -> str | None:
    """Turn on JAX's persistent compilation cache (idempotent); returns the folder or None if off."""
    global _configured
    try:
        folder = cache_dir or os.environ.get(ENV_VAR) or default_cache_dir()
    except RuntimeError:  # no home directory to be found
        if "" not in _unusable:
            _unusable.add("")
            log.warning("no home folder for the compilation cache; running without it (set %s)", ENV_VAR)
        return None
    if folder.lower() == "off":
        return None
    with _lock:
        if folder in _unusable:
            return None
        if _configured != folder:
            try:
                Path(folder).mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryFile(dir=folder):  # writable, not only present
                    pass
            except (OSError, ValueError) as err:
                _unusable.add(folder)
                reason = getattr(err, "strerror", None) or err
                log.warning(
                    "the compilation cache folder %r cannot be used (%s); running without it "
                    "(set %s to a writable folder, or to off)", folder, reason, ENV_VAR,
                )  # fmt: skip
                return None
            jax.config.update("jax_compilation_cache_dir", folder)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
            _configured = folder
    return folder


def compilation_cache_dir() -> str | None:
    """The folder in use, or None when the cache is off."""
    return _configured


def _english(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def device_summary(ngettext: Callable[[str, str, int], str] = _english) -> str:
    """What JAX computes on, in words: "1 CPU device", "2 GPU devices (NVIDIA H100 80GB HBM3)"; in the
    language of ``ngettext`` (a page passes its own)."""
    devices = jax.local_devices()
    platform = devices[0].platform.upper()
    kinds = sorted({getattr(d, "device_kind", "") for d in devices} - {"", "cpu"})
    detail = f" ({', '.join(kinds)})" if kinds and platform != "CPU" else ""
    words = ngettext("{count} {platform} device{detail}", "{count} {platform} devices{detail}", len(devices))
    return words.format(count=len(devices), platform=platform, detail=detail)
