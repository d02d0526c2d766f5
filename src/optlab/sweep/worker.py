"""A sweep worker: takes trials from the study until the sweep is settled; each trial is one training run.

Run as ``python -m optlab.sweep --study NAME --storage URL`` (what ``optlab sweep --workers K``
starts K times) or in-process through :func:`run_worker`. Any number of workers, on any machines, may serve
one study.

Nothing is trained twice. Optuna's GridSampler hands out points by trial number and then at random among the
points nobody has started, but two workers can still get the same point (a retried trial and a fresh one, or
GridSampler re-drawing a started point once all are started). So before training, a trial *claims* its point
in the storage and trains only if its claim is the only live one (:func:`_claim`); otherwise it waits for the
holder and, once the point has a result, ends PRUNED with ``duplicate_of`` set, having trained nothing.

The claim is a two-step check over the trials' own attributes (write a claim, then re-read): of two trials
that both claim, the one that reads second sees the other's claim, so at most one proceeds; when both see
each other both withdraw and retry after a random pause. A claim belongs to a RUNNING trial only, so a dead
worker's claim ends when the heartbeat check sets its trial to FAIL.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from optlab.errors import OptlabError
from optlab.sweep import study as study_mod
from optlab.sweep.results import format_point
from optlab.sweep.space import point_key
from optlab.train import TrainState, evaluate, resolve_device, train

POLL_SECONDS = 1.0


def trial_run_dir(study: Any, number: int, storage_url: str | None = None) -> Path:
    """``<storage root>/sweeps/<study>-<uid>/trial-0007``: one run folder per trial, on the machine that ran
    it, unique per study and storage (see :func:`optlab.sweep.study.sweep_dir`)."""
    return study_mod.sweep_dir(study, storage_url) / f"trial-{number:04d}"


class _Reporter:
    """Train callback: reports each epoch's accuracy to Optuna (for the pruner); keeps the learning curve."""

    def __init__(self, trial: Any, metric: str, prune: bool):
        self.trial, self.metric, self.prune = trial, metric, prune
        self.curve: list[list[float]] = []  # [epoch, step, accuracy, training seconds so far]
        self.train_seconds = 0.0
        self.pruned_at: int | None = None

    def on_epoch(self, state: TrainState) -> None:
        row = state.metrics
        self.train_seconds += row["epoch_time"]
        accuracy = row[self.metric]
        self.curve.append([row["epoch"], row["step"], accuracy, self.train_seconds])
        self.trial.report(accuracy, row["epoch"])
        if self.prune and state.epoch < state.epochs and self.trial.should_prune():
            self.pruned_at = row["epoch"]
            state.stop = True


class Worker:
    """Serves one study: ``run()`` loops until the sweep is settled."""

    def __init__(
        self,
        storage: Any,
        study_name: str,
        *,
        worker_index: int | None = 0,
        quiet: bool = False,
        poll: float = POLL_SECONDS,
        on_trial: Callable[[Any], None] | None = None,
        label: str = "",
    ):
        self.storage, self.study_name = storage, study_name
        self.study, self.spec = study_mod.join(storage, study_name, worker_index)
        self.url = storage.engine.url.render_as_string(hide_password=False)
        # trial runs are indexed beside their folders: the lecture's under --out, not in ./runs
        self.index = study_mod.storage_root(self.url) / "index.sqlite"
        self.quiet, self.poll, self.on_trial = quiet, poll, on_trial
        self.label = label
        self.datasets: dict[tuple, Any] = {}
        self.current: int | None = None  # number of the trial being run

    # -- the loop ---------------------------------------------------------------------------------------
    def run(self) -> study_mod.SweepStatus:
        import optuna

        while True:
            optuna.storages.fail_stale_trials(self.study)  # a dead worker's trial → FAIL + a WAITING retry
            trials = self.study.get_trials(deepcopy=False)
            status = study_mod.sweep_status(trials, self.spec)
            if status.finished:
                return status
            waiting = status.counts["waiting"] > 0
            if self.spec.search == "tpe":
                work = waiting or status.settled + status.counts["running"] < status.total
            elif waiting or status.untried:
                work = True  # GridSampler picks among the points nobody started; or pop a retry
            elif status.todo:
                # Points only tried by trials that crashed without a retry (interrupted, Ctrl-C): GridSampler
                # counts them as visited, so queue one explicitly.
                self.study.enqueue_trial(random.choice(status.todo))
                work = True
            else:
                work = False  # every open point is being run by someone: wait for them (or for their death)
            if not work:
                time.sleep(self.poll)
                continue
            try:
                self.study.optimize(self._objective, n_trials=1, gc_after_trial=False)
            except (ValueError, AssertionError, RuntimeError):
                # Optuna cannot record a trial that another worker has meanwhile set to FAIL for a missing
                # heartbeat (a stalled machine, a too-short --grace-period): its retry runs it again.
                if not self._declared_dead():
                    raise
                self._say(
                    f"trial {self.current}: another worker declared it dead (no heartbeat for "
                    f"{self.storage.grace_period} s); it is retried. Raise --grace-period if this recurs."
                )
            if self.on_trial is not None:
                self.on_trial(self.study)

    def _declared_dead(self) -> bool:
        if self.current is None:
            return False
        # Only fail_stale_trials sets another worker's RUNNING trial to FAIL; a trial that failed on its own
        # (NaN loss, bad value) is told FAIL by this worker, which raises nothing.
        trial = next(t for t in self.study.get_trials(deepcopy=False) if t.number == self.current)
        return trial.state.name == "FAIL"

    # -- one trial --------------------------------------------------------------------------------------
    def _suggest(self, trial: Any) -> dict[str, Any]:
        point = {}
        for param in self.spec.params:
            if param.values is not None:
                point[param.name] = trial.suggest_categorical(param.name, list(param.values))
            elif isinstance(param.low, int) and isinstance(param.high, int):
                point[param.name] = trial.suggest_int(param.name, param.low, param.high, log=param.log)
            else:
                point[param.name] = trial.suggest_float(param.name, param.low, param.high, log=param.log)
        return point

    def _objective(self, trial: Any) -> float:
        import optuna

        self.current = trial.number
        point = self._suggest(trial)
        host, pid = socket.gethostname(), os.getpid()
        trial.set_user_attr("worker", f"{host}:{pid}")
        trial.set_user_attr("pid", pid)
        for stale in ("run_dir", "error", "duplicate_of", "claim"):  # a retry inherits the dead trial's attrs
            if trial.user_attrs.get(stale) is not None:
                trial.set_user_attr(stale, None)
        holder = _claim(self.study, trial, point_key(point), self.poll)
        what = f"trial {trial.number}: {format_point(point)}"  # how each message names the trial
        if holder is not None:
            trial.set_user_attr("duplicate_of", holder)
            self._say(f"{what} already has trial {holder}; nothing trained")
            raise optuna.TrialPruned(f"duplicate of trial {holder}")

        config = self.spec.config_for(point, description=f"sweep {self.study_name} trial {trial.number}")
        run_dir = trial_run_dir(self.study, trial.number, self.url)
        trial.set_user_attr("run_dir", str(run_dir.resolve()))
        trial.set_user_attr("effective_lr", config.lr)
        metric = self.spec.objective_name()
        reporter = _Reporter(trial, metric, self.spec.prune)
        dataset = self._dataset(config)
        started = time.perf_counter()
        try:
            result = train(
                config,
                run_dir,
                dataset=dataset,
                callbacks=[reporter],
                quiet=True,
                index=self.index,
                group=self.study_name,
            )
        except (OptlabError, ValueError) as error:
            # A NaN loss or a bad hyperparameter would fail again: that is the point's result, not a crash.
            trial.set_user_attr("error", str(error))
            trial.set_user_attr("curve", reporter.curve)
            self._say(f"{what} failed: {error}")
            return math.nan  # Optuna records a trial returning NaN as FAIL
        wall = time.perf_counter() - started
        trial.set_user_attr("curve", reporter.curve)
        trial.set_user_attr("wall_time", wall)
        trial.set_user_attr("steps", result.summary["steps"])
        if metric == "val_acc":
            _, test_acc = evaluate(result.model, dataset.test, config.eval_batch_size)
            trial.set_user_attr("test_acc", test_acc)
            _record_test_acc(self.index, run_dir, result.summary, test_acc)
        final = {k: v for k, v in result.metrics[-1].items() if k.startswith(("val_", "test_"))}
        if self.spec.evaluate_train:
            final["train_loss"], final["train_acc"] = evaluate(
                result.model, dataset.train, config.eval_batch_size
            )
        trial.set_user_attr("final", final)
        accuracy = reporter.curve[-1][2]
        if reporter.pruned_at is not None:
            self._say(f"{what} pruned after epoch {reporter.pruned_at}")
            raise optuna.TrialPruned(f"pruned after epoch {reporter.pruned_at}")
        self._say(f"{what} → {metric} {accuracy:.4f} ({wall:.1f} s)")
        return accuracy

    def _dataset(self, config: Any) -> Any:
        """Each worker loads a dataset once (per validation split) and keeps it on the training device."""
        from optlab import data

        key = (config.dataset, config.data_dir, config.validation, config.seed, config.device)
        if key not in self.datasets:
            loaded = data.load(
                config.dataset, data_dir=config.data_dir, validation=config.validation, seed=config.seed
            )
            self.datasets[key] = loaded.to(resolve_device(config.device))
        return self.datasets[key]

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(f"{self.label}{text}", file=sys.stderr, flush=True)


def _record_test_acc(index_path: Path, run_dir: Path, summary: dict[str, Any], test_acc: float) -> None:
    """The trial's test accuracy (measured after training, beside its validation objective) in its
    summary.json and its runs-index row, so `optlab runs list` shows val_acc and test_acc for trials too."""
    from optlab._io import write_json
    from optlab.train import runs

    summary = {**summary, "test_acc": test_acc}
    write_json(run_dir / "summary.json", summary, sort_keys=True)  # as train's run files are written
    index = runs.RunIndex(index_path)
    index.finish(index.get(str(run_dir.resolve()))["id"], summary["status"], summary)


def _claim(study: Any, trial: Any, key: str, poll: float) -> int | None:
    """Claim point ``key`` for ``trial``: None when it may train, else the number of the trial that has it.

    Waits while another live trial holds the point; returns that trial's number once it has a result.
    """
    import optuna

    def rivals() -> list[Any]:
        return [
            t
            for t in study.get_trials(deepcopy=False)
            if t.number != trial.number
            and (point := study_mod.trial_point(t)) is not None
            and point_key(point) == key
        ]

    def holders(others: list[Any]) -> list[Any]:
        return [t for t in others if t.state.name == "RUNNING" and t.user_attrs.get("claim") == t.number]

    while True:
        others = rivals()
        settled = [t for t in others if study_mod.outcome(t) in study_mod.SETTLED]
        if settled:
            return settled[0].number
        if holders(others):
            optuna.storages.fail_stale_trials(study)  # the holder may be dead: let the heartbeat check tell
            time.sleep(poll)
            continue
        trial.set_user_attr("claim", trial.number)
        if not holders(rivals()):
            return None
        trial.set_user_attr("claim", None)  # both claimed at once: withdraw, retry after a random pause
        time.sleep(random.uniform(0.05, poll))


def set_threads(threads: int | None) -> None:
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise OptlabError(f"invalid value for --threads: {threads!r} (an integer >= 1)")
    import torch

    torch.set_num_threads(threads)


def run_worker(
    storage_url: str | None,
    study_name: str,
    *,
    heartbeat_interval: int = study_mod.DEFAULT_HEARTBEAT_INTERVAL,
    grace_period: int = study_mod.DEFAULT_GRACE_PERIOD,
    worker_index: int | None = 0,
    quiet: bool = False,
    poll: float = POLL_SECONDS,
    on_trial: Callable[[Any], None] | None = None,
    label: str = "",
    threads: int | None = None,
) -> study_mod.SweepStatus:
    """Serve study ``study_name`` until it is settled; returns its final status.

    ``threads`` sets torch's intra-op threads: several workers on one machine each using every core would
    oversubscribe it (on a loaded 2-core machine a tiny MLP step went from 15 ms to 500 ms).
    """
    set_threads(threads)
    storage = study_mod.open_storage(
        storage_url, heartbeat_interval=heartbeat_interval, grace_period=grace_period
    )
    worker = Worker(
        storage, study_name, worker_index=worker_index, quiet=quiet, poll=poll, on_trial=on_trial, label=label
    )
    return worker.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optlab.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--study", required=True)
    parser.add_argument(
        "--storage", default=None, help="SQLAlchemy URL (default: sqlite under the runs root)"
    )
    parser.add_argument("--heartbeat-interval", type=int, default=study_mod.DEFAULT_HEARTBEAT_INTERVAL)
    parser.add_argument("--grace-period", type=int, default=study_mod.DEFAULT_GRACE_PERIOD)
    parser.add_argument("--worker-index", type=int, default=None)
    parser.add_argument("--poll", type=float, default=POLL_SECONDS)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    options = vars(parser.parse_args(argv))  # besides --study and --storage: run_worker's keywords
    study, storage = options.pop("study"), options.pop("storage")
    label = f"[worker {options['worker_index']}] " if options["worker_index"] is not None else ""
    try:
        run_worker(storage, study, label=label, **options)
    except OptlabError as error:
        print(f"error: {label}{error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
