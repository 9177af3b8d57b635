from __future__ import annotations

import pytest
from common.training_config import IMAGE_MODE_DEFAULTS as MODE_DEFAULTS
from common.training_config import Cosine, ImageTrainConfig, StepLr
from common.training_config import parse_run_config as parse_config
from pydantic import ValidationError


def test_empty_config_is_a_quick_efficientnet_run():
    config = parse_config({})
    assert (config.mode, config.backbone, config.image_size, config.resize) == (
        "quick",
        "efficientnet_lite0",
        224,
        256,
    )


def test_finetune_mode_takes_its_own_defaults_and_explicit_fields_win():
    config = parse_config({"mode": "finetune", "epochs": 7})
    assert config.epochs == 7
    assert config.learning_rate == MODE_DEFAULTS["finetune"]["learning_rate"]
    assert config.batch_size == MODE_DEFAULTS["finetune"]["batch_size"]


@pytest.mark.parametrize(
    "raw", [{}, {"mode": "finetune"}, {"lr_schedule": "step_lr", "early_stopping": {"patience": 2}}]
)
def test_dumped_config_parses_back_to_itself(raw):
    config = parse_config(raw)
    assert parse_config(config.model_dump(mode="json")) == config


def test_schedule_name_alone_is_shorthand_for_its_defaults():
    assert parse_config({"lr_schedule": "step_lr"}).lr_schedule == StepLr()
    assert parse_config({"lr_schedule": {"name": "cosine", "min_lr_ratio": 0.1}}).lr_schedule == Cosine(
        min_lr_ratio=0.1
    )


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        ({"epochs": 0}, ("epochs",)),
        ({"epochs": 501}, ("epochs",)),
        ({"learning_rate": 0}, ("learning_rate",)),
        ({"learning_rate": 11}, ("learning_rate",)),
        ({"batch_size": 0}, ("batch_size",)),
        ({"batch_size": 1025}, ("batch_size",)),
        ({"image_size": 100}, ("image_size",)),
        ({"image_size": 32}, ("image_size",)),
        ({"image_size": 544}, ("image_size",)),
        ({"momentum": 1.0}, ("momentum",)),
        ({"weight_decay": -0.1}, ("weight_decay",)),
        ({"label_smoothing": 0.5}, ("label_smoothing",)),
        ({"data_split": 0.9}, ("data_split",)),
        ({"backbone": "vgg16"}, ("backbone",)),
        ({"mode": "fast"}, ("mode",)),
        ({"optimizer": "lbfgs"}, ("optimizer",)),
        ({"class_weighting": "sometimes"}, ("class_weighting",)),
        ({"unfreeze_blocks": 0}, ("unfreeze_blocks",)),
        ({"lr_schedule": "exponential"}, ("lr_schedule",)),
        ({"lr_schedule": {"name": "step_lr", "gamma": 2}}, ("lr_schedule", "step_lr", "gamma")),
        (
            {"lr_schedule": {"name": "reduce_lr_on_plateau", "factor": 1.5}},
            ("lr_schedule", "reduce_lr_on_plateau", "factor"),
        ),
        ({"early_stopping": {"patience": 0}}, ("early_stopping", "patience")),
        ({"learnign_rate": 0.1}, ("learnign_rate",)),
    ],
)
def test_bad_value_is_rejected_naming_its_field(raw, loc):
    with pytest.raises(ValidationError) as caught:
        parse_config(raw)
    assert [e["loc"] for e in caught.value.errors()] == [loc]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"epochs": 3, "warmup_epochs": 3}, "warmup_epochs"),
        ({"lr_schedule": "one_cycle", "warmup_epochs": 1}, "one_cycle"),
    ],
)
def test_inconsistent_fields_are_rejected_with_a_message_naming_them(raw, words):
    with pytest.raises(ValidationError, match=words):
        parse_config(raw)


def test_image_size_message_suggests_a_multiple_of_32():
    with pytest.raises(ValidationError, match="multiple of 32"):
        ImageTrainConfig(image_size=200)
