"""The ImageNet ResNet-50 recipe's hyperparameters, typed and validated, with two schedules; the run
request's ``imagenet`` config (``ImageNetRunConfig``) is built on them.

- ``seed``: the source project's recipe. SGD, momentum 0.9, learning rate divided by 10 at 1/3 and 2/3
  of the epochs, fixed 224 px crops, stop as soon as validation top-1 reaches ``target_top1``.
- ``fast``: FFCV's ResNet-50 recipe shape. Label smoothing 0.1, linear warm-up then linear decay to 0,
  no weight decay on batch-norm and bias, progressive resizing 160 -> 192 px evaluated at 224, bf16
  autocast and channels_last on CUDA, test-time horizontal flip, optional ``torch.compile``.

Fields a request leaves out take the defaults of its schedule (``SCHEDULE_DEFAULTS``), so
``ImageNetTrainConfig(data_dir=..., schedule="fast")`` is the whole fast recipe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Arch = Literal["resnet50", "resnet34", "resnet18", "resnet_tiny"]


class ImageNetRecipe(BaseModel):
    """What is trained and how: the fields a run request may set."""

    model_config = ConfigDict(extra="forbid")

    data_format: Literal["folders", "shards"] = Field(
        "folders", description="shards: the pre-resized shards prepare.py wrote (fewer pixels to decode)"
    )
    arch: Arch = Field("resnet50", description="resnet_tiny: one BasicBlock per stage, for tests")
    schedule: Literal["seed", "fast"] = "seed"
    epochs: int = Field(90, ge=1, le=1000)
    batch_size: int = Field(256, ge=1, le=4096, description="per process (per GPU)")
    lr_per_256: float = Field(0.1, gt=0, le=10, description="peak lr = lr_per_256 * global batch / 256")
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(1e-4, ge=0, le=0.1)
    no_bn_bias_decay: bool = Field(False, description="no weight decay on batch-norm weights and biases")
    label_smoothing: float = Field(0.0, ge=0, lt=0.5)
    warmup_epochs: float = Field(0, ge=0, le=50, description="fast: linear warm-up from 0")
    min_res: int = Field(224, ge=16, le=512, description="training crop at the start")
    max_res: int = Field(224, ge=16, le=512, description="training crop at the end of the ramp")
    ramp_epochs: tuple[float, float] = Field(
        (0, 0), description="fraction of training over which the crop grows from min_res to max_res"
    )
    eval_res: int = Field(224, ge=16, le=512, description="centre crop of validation (resize to /0.875)")
    test_time_flip: bool = False
    target_top1: float | None = Field(0.60, gt=0, le=1, description="stop once val top-1 reaches it")
    mixed_precision: Literal["auto", "off"] = Field("auto", description="bf16 autocast on CUDA")
    channels_last: bool = True
    compile: bool = Field(False, description="torch.compile the model (CUDA; minutes of warm-up)")
    workers: int = Field(8, ge=0, le=64, description="data-loader processes per GPU")
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cap, for smoke runs and benches")
    seed: int = Field(0, ge=0, le=2**31 - 1)

    @model_validator(mode="before")
    @classmethod
    def _schedule_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("schedule", "seed"), str):
            return {**SCHEDULE_DEFAULTS.get(data.get("schedule", "seed"), {}), **data}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ImageNetRecipe:
        if self.min_res > self.max_res:
            raise ValueError(f"min_res ({self.min_res}) must not exceed max_res ({self.max_res})")
        start, end = self.ramp_epochs
        if not 0 <= start <= end <= 1:
            raise ValueError("ramp_epochs must be two fractions 0 <= start <= end <= 1")
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be below epochs ({self.epochs})")
        return self


class ImageNetTrainConfig(ImageNetRecipe):
    """The recipe plus where it reads and writes: what ``trainer.imagenet.train`` runs."""

    data_dir: Path = Field(description="a prepared directory: train/<wnid>/, val/<wnid>/ (prepare.py)")
    output_prefix: str = Field("imagenet/run/", description="object-store prefix of the checkpoint")


class ImageNetRunConfig(ImageNetRecipe):
    """An ``imagenet`` run (``RunCreate.config``): the recipe, the prepared data it names, and the
    GPUs it runs on. Its data never goes through upload: ``data`` names a prepared directory under
    the trainer's ``imagenet_data_root`` (a PVC in a cluster), checked by the prepare Job's verification.
    """

    task: Literal["imagenet"] = "imagenet"
    data: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$",
        description="prepared data set directory under the trainer's imagenet_data_root, e.g. 'ilsvrc2012'",
    )
    gpus: int = Field(0, ge=0, le=16, description="GPUs of the pod (torchrun --nproc-per-node); 0 = CPU")
    nodes: int = Field(
        1, ge=1, le=1, description="pods; multi-node runs go through trainer.imagenet.manifests"
    )

    def recipe(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"task", "data", "gpus", "nodes"})


# libffcv/ffcv-imagenet rn50_configs/rn50_16_epochs.yaml (73.8% top-1 in 16 epochs on 8xA100): lr 1.7 at
# 8 x 512 images (0.106 per 256), peak at epoch 2, linear to 0; wd 1e-4, none on BN; label smoothing 0.1;
# 160 px until epoch 11, ramp to 192 px by epoch 13; flip TTA. Their blurpool is left out.
SCHEDULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "seed": {},
    "fast": {
        "epochs": 16,
        "batch_size": 256,
        "lr_per_256": 0.106,
        "weight_decay": 1e-4,
        "no_bn_bias_decay": True,
        "label_smoothing": 0.1,
        "warmup_epochs": 2,
        "min_res": 160,
        "max_res": 192,
        "ramp_epochs": (11 / 16, 13 / 16),
        "eval_res": 224,
        "test_time_flip": True,
    },
}
