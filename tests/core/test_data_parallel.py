"""Data-parallel training over local devices, on CPU: XLA can pretend to have two devices."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import json, re, jax, numpy as np
from core import train as T
from core.data import load_dataset
from core.spec import ModelSpec
result = T.train(ModelSpec.mlp((64,)), T.TrainConfig(epochs=2, batch_size={batch}), load_dataset("sample"))
program = next(v for k, v in T._compiled.items() if k[0] == "train").as_text()
print(json.dumps({{
    "local_devices": jax.local_device_count(),
    "devices": result.extra["devices"],
    "all_reduces": len(re.findall(r"all-reduce\\(", program)),
    "losses": result.history.step_losses,
    "accuracy": result.final_metrics.test_accuracy,
    "kernel": np.asarray(result.params["Dense_0"]["kernel"])[:8, :8].tolist(),
}}))
"""


def run(devices: int, batch: int = 128) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT), "FLAX_DASHBOARD_JAX_CACHE": "off"}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(batch=batch)], capture_output=True, text=True, env=env, cwd=ROOT,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_two_devices_split_each_batch_and_match_one_device():
    one, two = run(1), run(2)
    assert (one["local_devices"], one["devices"], one["all_reduces"]) == (1, 1, 0)
    assert (two["local_devices"], two["devices"]) == (2, 2)
    assert two["all_reduces"] >= 1  # the gradients are summed across the two halves of the batch
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-5)
    np.testing.assert_allclose(two["kernel"], one["kernel"], rtol=1e-4, atol=1e-6)
    assert two["accuracy"] == pytest.approx(one["accuracy"], abs=0.004)


@pytest.mark.slow
def test_a_batch_that_does_not_split_evenly_uses_one_device():
    odd = run(2, batch=127)
    assert odd["local_devices"] == 2 and odd["devices"] == 1 and odd["all_reduces"] == 0
