from __future__ import annotations

import pytest
import torch
from common.training_config import parse_run_config as parse_config
from trainer.training.core.optim import LrScheduler, build_optimizer, param_groups

STEPS = 4  # per epoch


def lrs(raw: dict, *, epochs_of_losses: list[float] | None = None) -> list[float]:
    """The lr of the first step of every epoch."""
    config = parse_config(raw)
    groups = param_groups(
        [(torch.nn.Linear(2, 2), 1.0)], learning_rate=config.learning_rate, weight_decay=0.1
    )
    scheduler = LrScheduler(build_optimizer(config, groups), config, steps_per_epoch=STEPS)
    out = []
    for epoch in range(config.epochs):
        for step in range(STEPS):
            scheduler.before_step()
            if step == 0:
                out.append(round(scheduler.head_lr, 6))
        scheduler.end_epoch((epochs_of_losses or [1.0] * config.epochs)[epoch])
    return out


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"lr_schedule": "none", "epochs": 3, "learning_rate": 0.1}, [0.1, 0.1, 0.1]),
        (
            {
                "lr_schedule": {"name": "step_lr", "step_size": 2, "gamma": 0.5},
                "epochs": 5,
                "learning_rate": 0.1,
            },
            [0.1, 0.1, 0.05, 0.05, 0.025],
        ),
        ({"lr_schedule": "cosine", "epochs": 3, "learning_rate": 0.1}, [0.1, 0.075, 0.025]),
        (
            {"lr_schedule": "none", "warmup_epochs": 2, "epochs": 3, "learning_rate": 0.1},
            [0.0125, 0.0625, 0.1],
        ),
        (
            {
                "lr_schedule": {"name": "one_cycle", "pct_start": 0.5, "div_factor": 10},
                "epochs": 2,
                "learning_rate": 0.1,
            },
            [0.01, 0.1],
        ),
    ],
)
def test_schedule_sets_these_learning_rates(raw, expected):
    assert lrs(raw) == pytest.approx(expected)


def test_plateau_cuts_the_rate_after_patience_epochs_without_improvement_down_to_min_lr():
    raw = {
        "lr_schedule": {"name": "reduce_lr_on_plateau", "factor": 0.5, "patience": 1, "min_lr": 0.03},
        "epochs": 6,
        "learning_rate": 0.1,
    }
    assert lrs(raw, epochs_of_losses=[1.0, 1.0, 1.0, 0.5, 0.5, 0.5]) == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.05]
    )
    assert lrs(raw, epochs_of_losses=[1.0] * 6) == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.03])


def test_biases_get_no_weight_decay():
    groups = param_groups([(torch.nn.Linear(2, 2), 0.5)], learning_rate=0.1, weight_decay=0.1)
    assert [(len(g["params"]), g["weight_decay"], g["lr"]) for g in groups] == [
        (1, 0.1, 0.05),
        (1, 0.0, 0.05),
    ]


@pytest.mark.parametrize(
    ("name", "kind"), [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)]
)
def test_optimizer_is_chosen_by_name(name, kind):
    config = parse_config({"optimizer": name})
    assert (
        type(
            build_optimizer(
                config, param_groups([(torch.nn.Linear(2, 2), 1.0)], learning_rate=0.1, weight_decay=0)
            )
        )
        is kind
    )
