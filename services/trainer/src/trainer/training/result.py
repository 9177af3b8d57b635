from __future__ import annotations

from pydantic import BaseModel


class TrainingResult(BaseModel):
    """What a successful run produced; ``artifacts`` maps file name -> object key."""

    val_accuracy: float
    epochs_completed: int
    onnx_key: str
    card_key: str
    artifacts: dict[str, str]
    onnx_max_abs_logit_diff: float
    onnx_top1_agreement: float
