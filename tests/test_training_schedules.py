"""Learning-rate schedules are functions of the step: built at step k they stand where k steps leave
them, which is what exact resume and "train N more epochs" rely on."""

from __future__ import annotations

import pytest
from torch import nn

from training import TrainConfig
from training.optim import build_optimizer, build_schedule, list_schedulers

STEPS = 4  # per epoch


def rates(config: TrainConfig, steps: int, start: int = 0, state: dict | None = None) -> list[float]:
    """The head's rate for each of `steps` optimizer steps, from step `start` (resuming from `state`)."""
    model = nn.Linear(2, 2)
    optimizer = build_optimizer(config, model)
    if state is not None:
        optimizer.load_state_dict(state)
    schedule = build_schedule(config, optimizer, STEPS, start_step=start)
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step_batch()
    return out


def fresh_state(config: TrainConfig) -> dict:
    model = nn.Linear(2, 2)
    optimizer = build_optimizer(config, model)
    build_schedule(config, optimizer, STEPS)
    return optimizer.state_dict()


@pytest.mark.parametrize("scheduler", [s for s in list_schedulers() if s != "plateau"])
def test_a_schedule_built_at_step_k_continues_as_if_it_had_run_k_steps(scheduler):
    config = TrainConfig.from_dict(
        {"scheduler": scheduler, "epochs": 5, "warmup_epochs": 1.0, "lr": 0.1, "optimizer": "sgd"}
    )
    whole = rates(config, 5 * STEPS)
    k = 7
    assert rates(config, 5 * STEPS - k, start=k, state=fresh_state(config)) == pytest.approx(whole[k:])


def test_warmup_rises_linearly_then_cosine_decays_to_zero():
    config = TrainConfig.from_dict({"scheduler": "cosine", "epochs": 3, "warmup_epochs": 1.0, "lr": 0.1})
    lrs = rates(config, 3 * STEPS + 1)
    assert lrs[:STEPS] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert lrs[STEPS:] == sorted(lrs[STEPS:], reverse=True) and lrs[-1] == pytest.approx(0, abs=1e-12)


def test_step_decays_every_lr_step_epochs():
    config = TrainConfig.from_dict({"scheduler": "step", "epochs": 6, "lr_step_epochs": 2, "lr_gamma": 0.5, "lr": 0.1})
    lrs = rates(config, 6 * STEPS)
    assert lrs[::STEPS] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])


def test_one_cycle_rises_to_lr_and_anneals():
    config = TrainConfig.from_dict({"scheduler": "onecycle", "epochs": 4, "lr": 0.1})
    lrs = rates(config, 4 * STEPS)
    assert max(lrs) == pytest.approx(0.1, rel=0.02) and lrs[0] < 0.01 and lrs[-1] < 0.001


def test_plateau_divides_the_rate_when_the_metric_stalls():
    config = TrainConfig.from_dict({"scheduler": "plateau", "plateau_patience": 1, "lr_gamma": 0.1, "lr": 0.1})
    optimizer = build_optimizer(config, nn.Linear(2, 2))
    schedule = build_schedule(config, optimizer, STEPS)
    for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.96], 1):
        schedule.step_epoch(epoch, loss)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01)
    assert schedule.state_dict()["num_bad_epochs"] == 0


def test_biases_and_norms_get_no_weight_decay_and_the_head_its_own_groups():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    config = TrainConfig.from_dict({"weight_decay": 0.05, "lr": 0.1})
    head = set(model[3].parameters())
    groups = build_optimizer(config, model, head, backbone_lr_factor=0.1).param_groups
    summary = [(round(g["lr"], 6), g["weight_decay"], sum(p.numel() for p in g["params"])) for g in groups]
    # The head's groups first (its rate is the one a run reports): weights with decay, the bias without.
    assert summary == [(0.1, 0.05, 8), (0.1, 0.0, 2), (0.01, 0.05, 108), (0.01, 0.0, 4 + 4 + 4)]
