"""Several local devices, on CPU: XLA can pretend to have N devices (--xla_force_host_platform_device_count).

One model splits each batch over the devices (XLA sums the gradients); a stack of models
splits its model axis (8 seeds on 8 devices: one seed each, no communication). Both must
give what one device gives, to float tolerance.
"""

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
from dataclasses import replace
from core.data import load_dataset
from core.spec import ModelSpec
from core.training import TrainConfig, train_stack
from core.training.programs import compiled_programs
spec, config = ModelSpec.mlp((64,)), TrainConfig(epochs=2, batch_size={batch})
members = [(spec.replace(seed=s), replace(config, seed=s)) for s in range({models})]
results = train_stack(members, load_dataset("sample"))
program = compiled_programs("train")[0]
placement = [str(s) for s in jax.tree_util.tree_leaves(program.input_shardings)][:1]
print(json.dumps({{
    "local_devices": jax.local_device_count(),
    "devices": results[0].extra["devices"],
    "split": results[0].extra["split"],
    "all_reduces": len(re.findall(r"all-reduce\\(", program.as_text())),
    "kernel_shape_per_device": re.findall(r"f32\\[(\\d+),784,64\\]", program.as_text())[:1],
    "losses": [r.history.step_losses for r in results],
    "accuracy": [r.final_metrics.test_accuracy for r in results],
    "kernel": [np.asarray(r.params["Dense_0"]["kernel"])[:8, :8].tolist() for r in results],
}}))
"""


def run(devices: int, batch: int = 128, models: int = 1) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT), "FLAX_DASHBOARD_JAX_CACHE": "off"}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(batch=batch, models=models)], capture_output=True, text=True, env=env,
        cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_same_training(got: dict, want: dict) -> None:
    for losses, reference in zip(got["losses"], want["losses"], strict=True):
        np.testing.assert_allclose(losses, reference, rtol=1e-5)
    np.testing.assert_allclose(got["kernel"], want["kernel"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got["accuracy"], want["accuracy"], atol=0.004)


@pytest.mark.slow
def test_two_devices_split_each_batch_and_match_one_device():
    one, two = run(1), run(2)
    assert (one["local_devices"], one["devices"], one["split"], one["all_reduces"]) == (1, 1, None, 0)
    assert (two["local_devices"], two["devices"], two["split"]) == (2, 2, "batch")
    assert two["all_reduces"] >= 1  # the gradients are summed across the two halves of the batch
    assert_same_training(two, one)


@pytest.mark.slow
def test_a_batch_that_does_not_split_evenly_uses_one_device():
    odd = run(2, batch=127)
    assert odd["local_devices"] == 2 and odd["devices"] == 1 and odd["all_reduces"] == 0


@pytest.mark.slow
def test_eight_seeds_on_eight_devices_train_one_seed_each_and_match_one_device():
    one, eight = run(1, models=8), run(8, models=8)
    assert (one["devices"], one["split"]) == (1, None)
    assert (eight["local_devices"], eight["devices"], eight["split"]) == (8, 8, "models")
    # each device holds the kernel of one model (1, 784, 64) of the stack of 8
    assert one["kernel_shape_per_device"] == ["8"] and eight["kernel_shape_per_device"] == ["1"]
    assert_same_training(eight, one)
    assert len({losses[0] for losses in eight["losses"]}) == 8  # eight different models
