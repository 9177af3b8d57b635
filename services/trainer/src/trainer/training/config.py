"""Every hyperparameter of an image training run, in one typed, validated place.

Fields a request leaves out take the defaults of its ``mode`` (``MODE_DEFAULTS``), so
``parse_config({})`` is a quick run and ``parse_config({"mode": "finetune"})`` a fine-tuning run.
``config.model_dump(mode="json")`` parses back to the same config.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Backbone = Literal[
    "efficientnet_lite0", "mobilenet_v2", "mobilenet_v3_large", "resnet18", "resnet34", "resnet50", "scratch"
]
Mode = Literal["quick", "finetune"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoSchedule(_Strict):
    name: Literal["none"] = "none"


class ReduceLrOnPlateau(_Strict):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without a lower validation loss."""

    name: Literal["reduce_lr_on_plateau"] = "reduce_lr_on_plateau"
    factor: float = Field(0.1, gt=0, lt=1)
    patience: int = Field(3, ge=0, le=100)
    min_lr: float = Field(0.0, ge=0, le=1)


class StepLr(_Strict):
    name: Literal["step_lr"] = "step_lr"
    step_size: int = Field(5, ge=1, le=500, description="epochs between two decays")
    gamma: float = Field(0.1, gt=0, le=1)


class Cosine(_Strict):
    name: Literal["cosine"] = "cosine"
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="final learning rate as a fraction of the first")


class OneCycle(_Strict):
    """Ramp up to ``learning_rate`` over ``pct_start`` of the steps, then anneal (it has its own warm-up)."""

    name: Literal["one_cycle"] = "one_cycle"
    pct_start: float = Field(0.3, gt=0, lt=1)
    div_factor: float = Field(25.0, ge=1, le=1e4)
    final_div_factor: float = Field(1e4, ge=1, le=1e6)


LrSchedule = Annotated[
    NoSchedule | ReduceLrOnPlateau | StepLr | Cosine | OneCycle, Field(discriminator="name")
]


class EarlyStopping(_Strict):
    """Stop after ``patience`` epochs without a better validation accuracy; keep the best epoch's weights."""

    patience: int = Field(5, ge=1, le=100)
    min_delta: float = Field(0.0, ge=0, le=1)


class ImageTrainConfig(_Strict):
    backbone: Backbone = Field(
        "efficientnet_lite0", description="'scratch' = random init, no ImageNet weights"
    )
    mode: Mode = Field(
        "quick",
        description="quick: frozen backbone, cached features, linear head; finetune: probe, then train",
    )
    optimizer: Literal["sgd", "adam", "adamw"] = "adamw"
    learning_rate: float = Field(1e-3, gt=0, le=10, description="of the head; earlier blocks get less")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum, or beta1 of Adam/AdamW")
    weight_decay: float = Field(1e-4, ge=0, le=1, description="not applied to biases and norm layers")
    batch_size: int = Field(64, ge=1, le=1024)
    epochs: int = Field(60, ge=1, le=500)
    data_split: float | None = Field(
        None,
        ge=0.05,
        le=0.5,
        description="validation fraction for a seeded stratified re-split; default: the data set's split",
    )
    lr_schedule: LrSchedule = Field(default_factory=Cosine)
    warmup_epochs: int = Field(0, ge=0, le=50, description="linear warm-up, in epochs")
    early_stopping: EarlyStopping | None = None
    label_smoothing: float = Field(0.1, ge=0, lt=0.5)
    class_weighting: Literal["auto", "none", "balanced"] = Field(
        "auto", description="auto: balanced weights when the largest class is 1.5x the smallest or more"
    )
    dropout: float = Field(0.2, ge=0, le=0.9, description="before the linear head")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    image_size: int = Field(224, ge=64, le=512, description="square network input, a multiple of 32")
    hflip_features: bool = Field(
        True, description="quick/probe: also learn from mirrored images (cached too)"
    )
    # finetune only
    probe_epochs: int = Field(
        30, ge=0, le=500, description="finetune: linear-probe epochs before fine-tuning"
    )
    # The last 3 blocks beat the whole network on flowers-5x100 (0.77 vs 0.73) in 60% of the time.
    unfreeze_blocks: int | Literal["all"] = Field(
        3, description="finetune: train the last N backbone blocks, or all"
    )
    layer_lr_decay: float = Field(
        0.7,
        gt=0,
        le=1,
        description="finetune: each block down from the head gets this times the next one's lr",
    )
    crop_scale_min: float = Field(
        0.35, ge=0.05, le=1, description="finetune: smallest random crop (area fraction)"
    )
    color_jitter: float = Field(
        0.2, ge=0, le=0.5, description="finetune: brightness/contrast/saturation strength"
    )
    trivial_augment: bool = Field(False, description="finetune: TrivialAugmentWide on every training image")
    mixed_precision: Literal["auto", "off"] = Field(
        "auto", description="bf16 autocast where the device is fast at it"
    )

    @field_validator("image_size")
    @classmethod
    def _multiple_of_32(cls, value: int) -> int:
        if value % 32:
            raise ValueError(f"must be a multiple of 32 (e.g. {round(value / 32) * 32 or 64})")
        return value

    @field_validator("lr_schedule", mode="before")
    @classmethod
    def _schedule_by_name(cls, value: Any) -> Any:
        # "cosine" is accepted as shorthand for {"name": "cosine"}.
        return {"name": value} if isinstance(value, str) else value

    @field_validator("unfreeze_blocks")
    @classmethod
    def _positive_blocks(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 100:
            raise ValueError("must be between 1 and 100, or 'all'")
        return value

    @model_validator(mode="before")
    @classmethod
    def _mode_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        mode = data.get("mode", "quick")
        return {**MODE_DEFAULTS.get(mode, {}), **data} if isinstance(mode, str) else data

    @model_validator(mode="after")
    def _consistent(self) -> ImageTrainConfig:
        if self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) must be smaller than epochs ({self.epochs})"
            )
        if self.warmup_epochs and isinstance(self.lr_schedule, OneCycle):
            raise ValueError("one_cycle has its own warm-up: set warmup_epochs to 0")
        return self

    @property
    def resize(self) -> int:
        """Shorter side before the centre crop (the usual 224/256 ratio)."""
        return round(self.image_size / 0.875)


# Quick trains a linear head on cached features: many cheap epochs. Finetune trains the network on
# augmented images: few expensive epochs at a lower learning rate, after a linear probe.
MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "quick": {},
    "finetune": {
        "optimizer": "adamw",
        "learning_rate": 5e-4,
        "weight_decay": 0.02,
        "batch_size": 32,
        "epochs": 4,
        "lr_schedule": {"name": "cosine"},
        "warmup_epochs": 0,
        # Measured on flowers-5x100 (BENCHMARKS.md): more epochs or a higher lr overfit (0.71 vs 0.77).
    },
}


def parse_config(raw: dict[str, Any]) -> ImageTrainConfig:
    """Validate a request's hyperparameters; raises ``pydantic.ValidationError`` naming the field."""
    return ImageTrainConfig.model_validate(raw)
