"""Sweeps made directly (as the form would), and waiting for them, for the sweep tests."""

from __future__ import annotations

from tests.helpers import TINY_CONFIG, wait_until
from training import TrainConfig
from webapp.experiments.models import Experiment
from webapp.experiments.states import ACTIVE
from webapp.sweeps.models import Sweep, SweepStatus


def make_sweep(owner, dataset, space: dict, **fields) -> Sweep:
    config = TrainConfig.from_dict({**TINY_CONFIG, **fields.pop("config", {})}).to_dict()
    defaults = {"method": "grid", "objective": "val_acc", "pruner": "none", "max_trials": 4, "parallelism": 1}
    return Sweep.objects.create(
        team=dataset.team,
        owner=owner,
        dataset=dataset,
        name="tiny sweep",
        config=config,
        space=space,
        **{**defaults, **fields},
    )


def sweep_with_trial(owner, dataset) -> Sweep:
    """A running grid sweep with one queued trial (rows only: nothing is sent to a worker)."""
    from webapp.sweeps.models import Trial

    sweep = make_sweep(owner, dataset, {"lr": [0.01, 0.02]})
    experiment = Experiment.objects.create(
        team=dataset.team, owner=owner, dataset=dataset, name="trial 0", config=sweep.config
    )
    Trial.objects.create(sweep=sweep, number=0, params={"lr": 0.01}, experiment=experiment)
    return sweep


def fresh(sweep: Sweep) -> Sweep:
    return Sweep.objects.get(pk=sweep.pk)


def active_trials(sweep: Sweep) -> int:
    return Experiment.objects.filter(trial__sweep=sweep, status__in=ACTIVE).count()


def sweep_finished(sweep: Sweep, timeout: float = 300, watch=None, message_log=None) -> Sweep:
    """The sweep once it has finished; `watch()` is called at every poll (e.g. to check the cap)."""

    def done():
        if watch is not None:
            watch()
        return (s := fresh(sweep)).status == SweepStatus.FINISHED and s

    def message() -> str:
        trials = Experiment.objects.filter(trial__sweep=sweep).values_list("pk", "status", "error")
        state = f"sweep #{sweep.pk} to finish (it is {fresh(sweep).status}; trials: {list(trials)})"
        return state + (f"; the worker's log:\n{message_log()}" if message_log else "")

    return wait_until(done, timeout, message=message)


def trial_experiments(sweep: Sweep) -> list[Experiment]:
    return [t.experiment for t in fresh(sweep).trial_rows()]


def sweep_socket(sweep_id: int, session_key: str | None = None):
    """A websocket client for /ws/sweeps/<id>/ on the real ASGI application (auth, origin check, routing)."""
    from channels.testing import WebsocketCommunicator

    from tests.helpers import settings_cookie_name
    from webapp.asgi import application

    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if session_key:
        headers.append((b"cookie", f"{settings_cookie_name()}={session_key}".encode()))
    return WebsocketCommunicator(application, f"/ws/sweeps/{sweep_id}/", headers=headers)


def sweep_form(dataset, space: dict, **changes) -> dict:
    """What the browser posts to create a sweep: the experiment form's fields (TINY_CONFIG), the space as
    JSON and the sweep's settings, then `changes`."""
    import json

    from tests.helpers import experiment_form

    settings = {"space": json.dumps(space), "method": "grid", "objective": "val_acc", "pruner": "none"}
    settings |= {"max_trials": 3, "parallelism": 1, "seed": 0, "max_epochs": ""}
    return experiment_form(dataset, name="a sweep", **{**settings, **changes})
