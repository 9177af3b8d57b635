"""Pydantic models that cross a service boundary (HTTP bodies and objects in the store).

A service may only depend on another through these shapes and its HTTP API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.events import EpochMetrics, LogLevel, Phase, RunEvent, Unit
from common.ids import ResourceId
from common.training_config import ImageTrainConfig, RunConfig, RunTask, TaskName

DatasetKind = Literal["image", "text"]
Split = Literal["train", "val"]
Verdict = Literal["accepted", "accepted_with_warnings", "rejected"]
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]

OWNER_HEADER = "X-Trainyard-Owner"
INTERNAL_TOKEN_HEADER = "X-Trainyard-Internal-Token"
REQUEST_ID_HEADER = "X-Request-ID"


def dataset_prefix(dataset_id: str) -> str:
    return f"datasets/{dataset_id}/"


def manifest_key(dataset_id: str) -> str:
    return f"datasets/{dataset_id}/manifest.json"


def features_prefix(dataset_id: str) -> str:
    """The trainer's cache of features computed from the data set; deleted with it."""
    return f"features/{dataset_id}/"


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


class ManifestItem(BaseModel):
    """One example. Images live in the pack object at [offset, offset+length); texts inline."""

    model_config = ConfigDict(extra="forbid")

    label: str
    split: Split
    source: str = Field(description="where it came from: the zip entry name or 'row N'")
    offset: int | None = None
    length: int | None = None
    width: int | None = None
    height: int | None = None
    text: str | None = None


class DatasetManifest(BaseModel):
    """The normalized data set, written to ``manifest_key(id)`` before the row is committed.

    Images are RGB, EXIF-oriented, re-encoded as JPEG and concatenated in ``pack_key``,
    so a trainer loads the whole set with one read.
    """

    version: Literal[1] = 1
    dataset_id: str
    name: str | None = Field(None, description="the name its owner gave the data set")
    kind: DatasetKind
    classes: list[str]
    seed: int
    val_fraction: float
    pack_key: str | None = None
    items: list[ManifestItem]

    def split_items(self, split: Split) -> list[ManifestItem]:
        return [item for item in self.items if item.split == split]


class DatasetOut(BaseModel):
    id: str
    owner: str
    name: str
    description: str = ""
    kind: DatasetKind
    verdict: Verdict
    classes: list[str]
    class_counts: dict[str, int]
    num_items: int
    val_fraction: float
    seed: int
    sha256: str
    size_bytes: int
    manifest_key: str | None
    report: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class RunCreate(BaseModel):
    """``config`` is the task's typed hyperparameters (all optional); ``task`` picks which. An image or
    text run trains on an uploaded data set (``dataset_id``); an ``imagenet`` run names prepared data
    in ``config.data`` instead (no upload, so no upload caps)."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: ResourceId | None = Field(None, description="required for image and text runs")
    task: RunTask = "image"
    config: RunConfig = Field(default_factory=ImageTrainConfig)

    @model_validator(mode="after")
    def _data_named_once(self) -> RunCreate:
        if self.task == "imagenet" and self.dataset_id is not None:
            raise ValueError("an imagenet run names its data in config.data; drop dataset_id")
        if self.task != "imagenet" and self.dataset_id is None:
            raise ValueError(f"an {self.task} run trains on an uploaded data set: give its dataset_id")
        return self

    @model_validator(mode="before")
    @classmethod
    def _task_into_config(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        config = data.get("config", {})
        if isinstance(config, dict):
            task = data.get("task", "image")
            if config.get("task", task) != task:
                raise ValueError(f"config.task {config['task']!r} differs from task {task!r}; drop one")
            data = {**data, "config": {**config, "task": task}}
        return data


class RunProgress(BaseModel):
    """``done`` of ``total`` ``unit`` of the run's current phase."""

    done: int
    total: int
    unit: Unit


class RunOut(BaseModel):
    id: str
    owner: str
    dataset_id: str
    task: str
    status: RunStatus
    config: dict[str, Any]
    attempts: int
    phase: Phase | None = Field(
        None, description="where the run is: queued, starting, loading, features, ..."
    )
    progress: RunProgress | None = Field(
        None, description="the counter within the phase (every phase has one)"
    )
    eta_s: float | None = Field(
        None, description="seconds the current phase still needs at its rate so far; null until it has moved"
    )
    latest_metrics: EpochMetrics | None = Field(None, description="the last epoch's metrics")
    last_event_id: int = Field(0, description="the run's latest event: follow it live from there (?after=)")
    metrics: dict[str, Any] = Field(default_factory=dict, description="history: every reported epoch")
    val_accuracy: float | None = None
    error: str | None = None
    model_id: str | None = None
    artifacts_prefix: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    queue_position: int | None = Field(None, description="1 = the next run to start; only while queued")


class TrainingSpec(BaseModel):
    """Everything the training entrypoint needs; the same document for a local worker and a k8s Job."""

    run_id: str
    owner: str
    dataset_id: str
    manifest_key: str
    output_prefix: str
    config: dict[str, Any] = Field(default_factory=dict)
    report_url: str | None = Field(None, description="trainer endpoint that receives progress events")
    objects_url: str | None = Field(
        None,
        description="trainer endpoint through which the process reads and writes its objects with its "
        "attempt's token (it holds no store credentials); None: the store named by its own settings",
    )
    attempt: int = Field(1, ge=1, description="which attempt of the run this process is")
    instance_id: str | None = Field(None, description="the trainer instance that launched this attempt")
    heartbeat_s: float | None = Field(
        None, gt=0, description="report a heartbeat this often; the attempt's lease is a few beats long"
    )


def resized_size(width: int, height: int, *, shorter_side: int) -> tuple[int, int]:
    """The (width, height) that brings the shorter side to ``shorter_side``: part of the model card's
    preprocessing contract, so the trainer's evaluation and the inference service resize identically.

    The longer side is ``long * shorter_side // short`` (integer floor); a square counts as portrait.
    """
    if width <= height:
        return shorter_side, height * shorter_side // width
    return width * shorter_side // height, shorter_side


class ImageCardPreprocessing(BaseModel):
    """RGB; shorter side to ``resize`` (PIL bilinear); centre crop ``input_size``; /255; (x-mean)/std; CHW
    (``common.imaging``). ONNX input "input": float32 [batch, 3, input_size, input_size]."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["image"] = "image"
    input_size: int
    resize: int = Field(description="shorter side is resized to this before the centre crop")
    mean: list[float]
    std: list[float]


class TextCardPreprocessing(BaseModel):
    """``common.text``: the tokenizer file beside the card (HF ``tokenizers`` JSON) encodes each text,
    truncated to ``max_length`` ids and right-padded with ``pad_id`` to the longest in the batch.
    ONNX input "input_ids": int64 [batch, length]; padding is recognised inside the graph by ``pad_id``."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["text"] = "text"
    tokenizer_file: str = Field("tokenizer.json", description="object name, beside the model card")
    tokenizer_sha256: str
    tokenizer_kind: Literal["word", "wordpiece"]
    max_length: int = Field(ge=1)
    pad_id: int = Field(ge=0)
    max_chars: int = Field(ge=1, description="longest text the model accepts, in characters")


CardPreprocessing = Annotated[ImageCardPreprocessing | TextCardPreprocessing, Field(discriminator="task")]
_IMAGE_CARD_FIELDS = ("input_size", "resize", "mean", "std")


class ModelCard(BaseModel):
    """Written beside ``model.onnx``; the inference service needs nothing else to serve it (a text
    model: and the tokenizer file it names)."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    task: TaskName = "image"
    classes: list[str]
    preprocessing: CardPreprocessing
    backbone: str = Field(description="the network: an image backbone, or a text model")
    mode: str
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    val_accuracy: float
    created_at: datetime
    run_id: str
    dataset_id: str
    # What a person reads before using the model (cards written before these fields lack them).
    dataset_name: str | None = None
    class_counts: dict[str, dict[str, int]] = Field(
        default_factory=dict, description='{"train": {class: n}, "val": {class: n}}'
    )
    per_class: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="validation precision, recall, f1 and support per class"
    )
    intended_use: str = ""
    limitations: list[str] = Field(default_factory=list)
    software: dict[str, str] = Field(
        default_factory=dict, description="package -> version it was trained with"
    )

    @model_validator(mode="before")
    @classmethod
    def _legacy_image_card(cls, data: Any) -> Any:
        # Cards written before text models kept the image preprocessing at the top level.
        if isinstance(data, dict) and "preprocessing" not in data and "input_size" in data:
            data = dict(data)
            data["preprocessing"] = {"task": "image", **{k: data.pop(k) for k in _IMAGE_CARD_FIELDS}}
        return data

    @model_validator(mode="after")
    def _one_task(self) -> ModelCard:
        if self.preprocessing.task != self.task:
            raise ValueError(f"a {self.task} card with {self.preprocessing.task} preprocessing")
        return self


class ModelRegister(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    run_id: str
    name: str
    onnx_key: str
    card_key: str


class ModelOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    id: str
    owner: str
    run_id: str
    name: str
    onnx_key: str
    card_key: str
    classes: list[str]
    created_at: datetime


class TokenOut(BaseModel):
    token: str = Field(description="shown once; only its hash is stored")
    model_id: str
    prefix: str
    created_at: datetime


class LabelScore(BaseModel):
    label: str
    probability: float


class Prediction(BaseModel):
    model_id: str
    top_k: list[LabelScore]


class BatchPrediction(BaseModel):
    model_id: str
    predictions: list[Prediction]


# The public API's pages and answers (the gateway's /api/v1 declares these; the services return them) ---


class ErrorInfo(BaseModel):
    code: str = Field(description="stable machine-readable reason, e.g. not_found, validation_error")
    message: str = Field(description="what went wrong and what to do, for a person")
    detail: Any = Field(None, description="structured detail: field errors, a health report, retry_after_s")


class ErrorBody(BaseModel):
    """Every error answer of every service has this one shape."""

    error: ErrorInfo


class DatasetPage(BaseModel):
    items: list[DatasetOut]
    total: int


class DatasetPreview(BaseModel):
    dataset_id: str
    kind: DatasetKind
    classes: dict[str, list[Any]] = Field(
        description="per class: thumbnails as data: URLs (images) or {source, text} rows (texts)"
    )
    text_column: str | None = None


class RunPage(BaseModel):
    items: list[RunOut]
    total: int
    limit: int
    offset: int


class ArtifactOut(BaseModel):
    name: str


class ArtifactList(BaseModel):
    items: list[ArtifactOut]


class ModelDetail(ModelOut):
    card: ModelCard


class ModelPage(BaseModel):
    items: list[ModelOut]
    total: int


class TokenCreated(TokenOut):
    """``TokenOut`` plus the id that revokes it."""

    id: str


class TokenInfo(BaseModel):
    """A token as listed: never the token itself, only its display prefix."""

    model_config = ConfigDict(protected_namespaces=())

    id: str
    model_id: str
    prefix: str
    created_at: datetime
    revoked: bool
    revoked_at: datetime | None = None


class RunEventOut(BaseModel):
    """The ``data`` of one message of ``GET /runs/{id}/events`` (its SSE ``id`` is ``seq``)."""

    seq: int
    at: datetime
    event: RunEvent


class RunLogLine(BaseModel):
    seq: int
    at: datetime
    level: LogLevel
    message: str
    logger: str | None = None


class RunLogs(BaseModel):
    """The last lines the run's training process logged (``tail`` of them), oldest first."""

    items: list[RunLogLine]
