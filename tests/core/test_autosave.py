"""Training with a checkpoint after every epoch follows the very same curve as one training."""

from __future__ import annotations

import jax
import numpy as np

from core.runs import checkpoint
from core.runs.autosave import train_saving_each_epoch
from core.spec import ModelSpec
from core.training import Phase, TrainConfig, train


def test_saving_every_epoch_changes_nothing_of_the_training(tmp_path, sample):
    spec, config = ModelSpec.mlp((16,), seed=3), TrainConfig(epochs=3, batch_size=128, seed=5)
    save = tmp_path / "run.msgpack"
    seen_on_disk, reported = [], []

    def on_progress(p):
        reported.append((p.step, p.total_steps, p.epochs, p.eta_s))
        if p.phase == Phase.COMPILING and save.exists():  # the start of epochs 2 and 3
            kept = checkpoint.load(save)
            seen_on_disk.append((kept.status, len(kept.history.epochs), kept.config.epochs, kept.reason))

    saved = train_saving_each_epoch(spec, config, sample, save, on_progress=on_progress)
    once = train(spec, config, sample)
    assert saved.path == save and saved.failure == ""
    assert saved.result.history.step_losses == once.history.step_losses
    assert [m.test_loss for m in saved.result.history.epochs] == [m.test_loss for m in once.history.epochs]
    assert all(
        np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(saved.result.params), jax.tree.leaves(once.params), strict=True)
    )
    assert seen_on_disk == [
        ("stopped", 1, 3, "saved after epoch 1 of 3 while training; it can be continued from there"),
        ("stopped", 2, 3, "saved after epoch 2 of 3 while training; it can be continued from there"),
    ]
    final = checkpoint.load(save)
    assert final.status == "finished" and final.steps == once.steps and final.config == config
    # progress spans the whole run, not one epoch's call, and each epoch continues the last (never from 0)
    steps = [step for step, _, _, _ in reported]
    assert steps == sorted(steps) and steps[-1] == once.steps
    assert {total for _, total, _, _ in reported} == {once.steps} and {e for _, _, e, _ in reported} == {3}
