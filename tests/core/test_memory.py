"""The memory budget of the models visitors keep: counted in bytes, let go over budget when saved."""

from __future__ import annotations

import gc
import weakref

import pytest

from core.errors import CheckpointError
from core.layers import Layer
from core.runs import store
from core.runs.memory import DEFAULT_SERVER_MB, DEFAULT_VISITOR_MB, Budget, KeptModel, MemoryLedger, tree_nbytes
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.trees import assert_leaves_close

#: a 784-32-10 MLP: 784 x 32 + 32 + 32 x 10 + 10 = 25,450 float32 parameters
PARAMS_BYTES = 25_450 * 4
#: its adam state: two moments per parameter, two step counts and five hyperparameters (4 bytes each)
ADAM_BYTES = 2 * PARAMS_BYTES + 7 * 4


class Visitor:
    """A visitor's session as the ledger sees it (``components.state.AppState`` in the app)."""

    def __init__(self, ledger: MemoryLedger) -> None:
        self.ledger = ledger
        self.models: list[KeptModel] = []
        self.current: KeptModel | None = None
        ledger.watch(self)

    def keep(self, result, saved) -> KeptModel:
        """A finished run kept (and made the current one, as the app does), then counted."""
        model = KeptModel(result, saved, self.ledger)
        self.models.append(model)
        self.current = model
        self.ledger.settle()
        return model

    def kept_models(self) -> list[KeptModel]:
        return self.models

    def models_in_use(self) -> list[KeptModel]:
        return [self.current] if self.current is not None else []


@pytest.fixture(scope="module")
def results(small):
    """Three different trained 784-32-10 MLPs (one epoch, seeds 0, 1, 2 of the batch order)."""
    return [train(ModelSpec.mlp((32,)), TrainConfig(epochs=1, seed=seed), small) for seed in range(3)]


def budget(visitor_models: float, server_models: float) -> Budget:
    """A budget for this many saved 784-32-10 models per visitor and on the server."""
    return Budget(round(visitor_models * PARAMS_BYTES), round(server_models * PARAMS_BYTES))


@pytest.mark.parametrize(
    ("visitor", "server", "expected"),
    [
        ("512", "4096", (512_000_000, 4_096_000_000)),
        ("0.25", "0", (250_000, 0)),
        ("a lot", "-3", (DEFAULT_VISITOR_MB * 1e6, DEFAULT_SERVER_MB * 1e6)),
        ("nan", "inf", (256_000_000, 2_048_000_000)),
        (None, None, (256_000_000, 2_048_000_000)),
    ],
)
def test_budgets_come_from_the_environment_and_bad_values_fall_back_to_the_defaults(visitor, server, expected):
    environ = {"FLAX_DASHBOARD_VISITOR_MB": visitor, "FLAX_DASHBOARD_SERVER_MB": server}
    assert Budget.from_env({k: v for k, v in environ.items() if v is not None}) == Budget(*map(int, expected))


def test_a_kept_model_counts_its_parameters_and_batch_statistics_and_unsaved_its_optimizer_state(
    tmp_path, results, small
):
    ledger = MemoryLedger(Budget(10**9, 10**9))
    visitor = Visitor(ledger)
    saved = visitor.keep(results[0], store.save_run(results[0], tmp_path))
    assert saved.nbytes == PARAMS_BYTES == 101_800 and saved.result().opt_state is None
    unsaved = visitor.keep(results[1], None)  # a failed save: it exists nowhere else, so all of it stays
    assert unsaved.nbytes == PARAMS_BYTES + ADAM_BYTES == 305_428
    batchnorm = train(ModelSpec(kind="mlp", hidden=(Layer(32), Layer.batchnorm())), TrainConfig(epochs=1), small)
    with_stats = visitor.keep(batchnorm, store.save_run(batchnorm, tmp_path))
    # a scale and a bias per BatchNorm value are parameters; the running mean and variance are batch_stats
    assert tree_nbytes(batchnorm.batch_stats) == 2 * 32 * 4
    assert with_stats.nbytes == PARAMS_BYTES + 2 * 32 * 4 + 2 * 32 * 4
    assert ledger.held_bytes(visitor) == ledger.held_bytes() == 101_800 + 305_428 + 102_312


def test_over_budget_the_least_recently_used_saved_model_leaves_memory_and_reads_back_equal(tmp_path, results):
    ledger = MemoryLedger(budget(visitor_models=2.5, server_models=10))
    visitor = Visitor(ledger)
    first, second, third = (visitor.keep(r, store.save_run(r, tmp_path)) for r in results)
    assert [m.held for m in (first, second, third)] == [False, True, True]
    assert ledger.held_bytes(visitor) == 2 * PARAMS_BYTES
    # a page opens the first run again: read back from its file, equal, and the next oldest leaves instead
    visitor.current = first
    assert_leaves_close(first.result().params, results[0].params)
    assert [m.held for m in (first, second, third)] == [True, False, True]
    assert ledger.held_bytes(visitor) == 2 * PARAMS_BYTES
    # its settings, curve and scores never left
    assert second.record.history.step_losses == results[1].history.step_losses


def test_the_model_in_use_and_runs_saved_nowhere_else_are_never_let_go(tmp_path, results):
    ledger = MemoryLedger(budget(visitor_models=0, server_models=0))
    visitor = Visitor(ledger)
    unsaved = visitor.keep(results[0], None)
    older = visitor.keep(results[1], store.save_run(results[1], tmp_path))
    in_use = visitor.keep(results[2], store.save_run(results[2], tmp_path))
    assert [m.held for m in (unsaved, older, in_use)] == [True, False, True]
    share = ledger.share(visitor)
    assert (share.held_bytes, share.unsaved_bytes, share.unsaved_runs) == (2 * PARAMS_BYTES + ADAM_BYTES, 305_428, 1)
    assert share.over_budget and share.budget_bytes == 0


def test_two_visitors_have_separate_shares_and_the_server_budget_counts_both(tmp_path, results):
    ledger = MemoryLedger(budget(visitor_models=2, server_models=3))
    alice, bob = Visitor(ledger), Visitor(ledger)
    alices = [alice.keep(r, store.save_run(r, tmp_path)) for r in results[:2]]
    assert ledger.held_bytes(alice) == 2 * PARAMS_BYTES  # within her own budget
    bobs = [bob.keep(r, store.save_run(r, tmp_path)) for r in results[1:]]
    # each within their own budget, four models over the server's three: the oldest of all leaves
    assert [m.held for m in alices + bobs] == [False, True, True, True]
    assert (ledger.held_bytes(alice), ledger.held_bytes(bob), ledger.held_bytes()) == (101_800, 203_600, 305_400)


def test_a_collected_session_frees_its_share(tmp_path, results):
    ledger = MemoryLedger(budget(visitor_models=2, server_models=2))
    alice, bob = Visitor(ledger), Visitor(ledger)
    bob.keep(results[1], None)
    bob.keep(results[2], None)
    first = alice.keep(results[0], store.save_run(results[0], tmp_path))
    alice.current = None  # she went on editing another model
    ledger.settle()
    assert not first.held and ledger.held_bytes() == 2 * (PARAMS_BYTES + ADAM_BYTES)
    closed = weakref.ref(bob)
    del bob  # his tab closed and Streamlit dropped his session
    gc.collect()
    assert closed() is None  # the ledger did not keep his session alive
    assert ledger.held_bytes() == 0
    first.result()  # read back: within the server's budget now that his share is gone
    assert first.held and ledger.held_bytes() == ledger.held_bytes(alice) == PARAMS_BYTES


def test_a_model_whose_file_is_gone_says_so_when_read_back(tmp_path, results):
    ledger = MemoryLedger(budget(visitor_models=0, server_models=0))
    visitor = Visitor(ledger)
    saved = store.save_run(results[0], tmp_path)
    gone = visitor.keep(results[0], saved)
    visitor.keep(results[1], store.save_run(results[1], tmp_path))
    saved.checkpoint_path.unlink()
    with pytest.raises(CheckpointError, match=r"moved out of memory .* cannot be read back: cannot open checkpoint"):
        gone.result()
