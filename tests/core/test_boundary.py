import subprocess
import sys
from pathlib import Path

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
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")
    assert int(proc.stdout.split()[1]) >= 8


def test_device_summary_names_what_jax_uses():
    import jax

    from core.jax_setup import device_summary

    summary = device_summary()
    assert summary.startswith(f"{jax.local_device_count()} {jax.devices()[0].platform.upper()} device")
