"""The training loop on small real datasets: run folder, determinism, exact resume, NaN stop, callbacks."""

import hashlib
import json

import pytest
import torch

from optlab.errors import ConfigError, OptlabError
from optlab.train import RunIndex, TrainConfig, evaluate, load_checkpoint, read_csv, runs_root, train


def small(**changes):
    base = dict(
        dataset="ordered-abc", model="mlp", optimizer="adam", lr=1e-2, batch_size=32, epochs=3, seed=0
    )
    return TrainConfig(**{**base, **changes})


def params_of(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_params(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_run_folder_and_index(tmp_path, abc):
    config = small(schedule="cosine", warmup_steps=3, validation=60)
    result = train(config, tmp_path / "run", quiet=True)
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoints",
        "config.toml",
        "final.pt",
        "metrics.csv",
        "summary.json",
    ]
    rows = read_csv(run / "metrics.csv")
    assert len(rows) == 3 == len(result.metrics)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    steps_per_epoch = -(-240 // 32)  # 300 - 60 validation examples
    assert [r["step"] for r in rows] == [steps_per_epoch * e for e in (1, 2, 3)]
    for column in ("train_loss", "train_acc", "val_loss", "val_acc", "grad_norm", "lr", "time_per_update"):
        assert all(isinstance(r[column], float) for r in rows), column
    assert rows[0]["train_loss"] > rows[-1]["train_loss"]  # it learns
    assert rows[-1]["lr"] < config.lr  # cosine decays after warm-up
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["seed"] == 0 and summary["device"] == "cpu"
    assert summary["steps"] == 3 * steps_per_epoch and summary["torch_version"] == torch.__version__
    # config.toml is the resolved config: device auto -> cpu
    assert TrainConfig.load(run / "config.toml") == config.replace(device="cpu")
    final = torch.load(run / "final.pt", weights_only=True)
    assert_same_params(final, params_of(result.model))
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 3 * steps_per_epoch
    row = RunIndex().get("run")
    assert row["status"] == "completed" and row["summary"]["final"]["val_acc"] == rows[-1]["val_acc"]
    assert (runs_root() / "index.sqlite").is_file()


def test_default_run_dir_is_under_runs_root(abc):
    result = train(small(epochs=1, description="my first run"), quiet=True)
    assert result.run_dir.parent == runs_root()
    assert result.run_dir.name.endswith("my-first-run")


def test_same_seed_same_parameters_other_seed_differs(tmp_path, mnist1d_small):
    config = small(dataset="mnist1d", epochs=2, batch_size=50)
    a = train(config, tmp_path / "a", dataset=mnist1d_small, quiet=True, index=False)
    b = train(config, tmp_path / "b", dataset=mnist1d_small, quiet=True, index=False)
    c = train(config.replace(seed=1), tmp_path / "c", dataset=mnist1d_small, quiet=True, index=False)
    assert_same_params(params_of(a.model), params_of(b.model))
    pa, pc = params_of(a.model), params_of(c.model)
    assert any(not torch.equal(pa[k], pc[k]) for k in pa)


class Crash:
    """Simulates a crash after `at` updates (the run dies without finishing, like kill -9 would)."""

    def __init__(self, at):
        self.at = at

    def on_step(self, state):
        if state.step == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize(("crash_at", "checkpoint_every"), [(13, 5), (16, 8), (20, 0)])
def test_resume_gives_bit_identical_parameters(tmp_path, mnist1d_small, crash_at, checkpoint_every):
    # 400 / 50 = 8 updates per epoch: crash mid-epoch, right after an epoch-end checkpoint at the epoch's
    # last batch (16 with checkpoint_every=8), and with per-epoch checkpoints only.
    config = small(
        dataset="mnist1d", epochs=3, batch_size=50, checkpoint_every=checkpoint_every, log_steps=True
    )
    whole = train(config, tmp_path / "whole", dataset=mnist1d_small, quiet=True, index=False)
    with pytest.raises(KeyboardInterrupt):
        train(
            config,
            tmp_path / "cut",
            dataset=mnist1d_small,
            quiet=True,
            callbacks=[Crash(crash_at)],
            index=False,
        )
    assert json.loads((tmp_path / "cut" / "summary.json").read_text())["status"] == "failed"
    resumed = train(None, tmp_path / "cut", dataset=mnist1d_small, quiet=True, resume=True, index=False)
    assert_same_params(params_of(whole.model), params_of(resumed.model))
    timeless = lambda rows: [{k: v for k, v in r.items() if "time" not in k} for r in rows]  # noqa: E731
    assert timeless(read_csv(tmp_path / "whole" / "metrics.csv")) == timeless(
        read_csv(tmp_path / "cut" / "metrics.csv")
    )
    assert read_csv(tmp_path / "whole" / "steps.csv") == read_csv(tmp_path / "cut" / "steps.csv")


def test_resume_with_dropout_restores_rng(tmp_path):
    """cnn1d/c1 aside, dropout consumes the global RNG every step: resume must restore it."""
    from optlab import models

    if "c1" not in models.names():
        pytest.skip("no dropout model registered")
    generator = torch.Generator().manual_seed(0)
    from optlab.data import Dataset, Split

    x, y = torch.rand(64, 1, 12, 12, generator=generator), torch.randint(0, 3, (64,), generator=generator)
    tiny = Dataset("tiny", Split(x, y), Split(x[:16], y[:16]), None, 3, ("a", "b", "c"))
    config = small(dataset="tiny", model="c1", epochs=2, batch_size=16, checkpoint_every=3)
    whole = train(config, tmp_path / "whole", dataset=tiny, quiet=True, index=False)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "cut", dataset=tiny, quiet=True, callbacks=[Crash(5)], index=False)
    torch.manual_seed(1234)  # the resumed run must not depend on the global RNG it starts with
    resumed = train(None, tmp_path / "cut", dataset=tiny, quiet=True, resume=True, index=False)
    assert_same_params(params_of(whole.model), params_of(resumed.model))


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, abc):
    config = small(optimizer="sgd", lr=1e10, epochs=50, checkpoint_every=1)
    with pytest.raises(OptlabError, match=r"loss became nan/inf by update \d+ .*last good checkpoint"):
        train(config, tmp_path / "run", quiet=True)
    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert all(torch.isfinite(v).all() for v in checkpoint["model"].values())
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and "nan" in summary["error"]
    assert summary["steps"] > checkpoint["step"]
    assert not (tmp_path / "run" / "final.pt").exists()
    assert RunIndex().get("run")["status"] == "failed"


def test_callbacks_see_every_step_and_can_stop(tmp_path, abc):
    class Recorder:
        def __init__(self):
            self.steps, self.epochs = [], []

        def on_step(self, state):
            self.steps.append((state.step, float(state.loss)))
            if state.step == 12:
                state.stop = True

        def on_epoch(self, state):
            self.epochs.append(state.metrics["epoch"])

    recorder = Recorder()
    result = train(small(epochs=5), tmp_path / "run", quiet=True, callbacks=[recorder])
    assert [s for s, _ in recorder.steps] == list(range(1, 13))
    assert recorder.epochs == [1, 2]  # 10 updates per epoch: stopped during the second
    assert result.summary["steps"] == 12 and result.summary["status"] == "completed"


def test_max_steps_and_full_batch(tmp_path, abc):
    result = train(small(batch_size=None, epochs=100, max_steps=7), tmp_path / "run", quiet=True)
    assert result.summary["steps"] == 7 and len(result.metrics) == 7  # one update per epoch


def test_existing_run_needs_resume(tmp_path, abc):
    train(small(epochs=1), tmp_path / "run", quiet=True)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(small(epochs=1), tmp_path / "run", quiet=True)


def test_unwritable_run_dir_fails_before_loading_data(tmp_path):
    (tmp_path / "file").write_text("not a folder")

    class Untouchable:
        def to(self, device):
            raise AssertionError("data was touched before the run folder was checked")

    with pytest.raises(OptlabError, match="cannot write to run directory"):
        train(small(), tmp_path / "file" / "run", dataset=Untouchable(), quiet=True)


def _digest(folder):
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize("damage", ["truncate", "foreign"])
def test_corrupt_or_foreign_checkpoint_on_resume(tmp_path, abc, damage):
    run = tmp_path / "run"
    train(small(epochs=2), run, quiet=True)
    last = run / "checkpoints" / "last.pt"
    if damage == "truncate":
        last.write_bytes(last.read_bytes()[:1000])
    else:
        torch.save({"model": torch.zeros(3)}, last)
    before = _digest(run)
    with pytest.raises(OptlabError, match=r"corrupt|not an optlab checkpoint"):
        train(None, run, resume=True, quiet=True)
    assert _digest(run) == before  # nothing overwritten


def test_resume_needs_a_run_folder(tmp_path):
    with pytest.raises(ConfigError, match=r"no config\.toml"):
        train(None, tmp_path, resume=True)


def test_epoch_statistics_match_direct_computation(tmp_path, mnist1d_small):
    """grad_norm: mean full-gradient norm over updates; train loss/accuracy: over the epoch's batches."""

    class Norms:
        def __init__(self):
            self.norms, self.losses = [], []

        def on_step(self, state):  # after the step the gradient of this update is still in .grad
            grads = [p.grad.flatten() for p in state.model.parameters()]
            self.norms.append(torch.cat(grads).double().norm().item())
            self.losses.append(state.loss.item())

    recorder = Norms()
    config = small(dataset="mnist1d", epochs=1, batch_size=40)  # 10 updates: the norm is taken at every one
    result = train(
        config, tmp_path / "r", dataset=mnist1d_small, quiet=True, index=False, callbacks=[recorder]
    )
    row = result.metrics[0]
    assert row["grad_norm"] == pytest.approx(sum(recorder.norms) / 10, rel=1e-6)
    assert row["train_loss"] == pytest.approx(sum(recorder.losses) / 10, rel=1e-12)

    # with a learning rate too small to move the weights, the epoch's train accuracy is the model's accuracy
    frozen_config = config.replace(optimizer="sgd", lr=1e-30)
    frozen = train(frozen_config, tmp_path / "f", dataset=mnist1d_small, quiet=True, index=False)
    loss, acc = evaluate(frozen.model, mnist1d_small.train, 1000)
    assert frozen.metrics[0]["train_acc"] == acc
    assert frozen.metrics[0]["train_loss"] == pytest.approx(loss, rel=1e-5)
