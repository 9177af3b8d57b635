from __future__ import annotations

from typing import Any, Literal

from common.contracts import DatasetKind, DatasetPage, DatasetPreview
from pydantic import BaseModel, ConfigDict, Field, field_validator


class UploadForm(BaseModel):
    """The text fields of ``POST /datasets`` (the file itself is the ``file`` field)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, max_length=200, description="default: the file name")
    description: str = Field("", max_length=5000)
    kind: DatasetKind | None = Field(
        None, description="image (zip) or text (CSV/TSV); default: from the file"
    )
    val_fraction: float | None = Field(None, description="share of each class for validation")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="split and sampling seed")
    text_column: str | None = Field(None, max_length=200, description="text sets: column with the text")
    label_column: str | None = Field(None, max_length=200, description="text sets: column with the label")

    @field_validator("name", "kind", "val_fraction", "seed", "text_column", "label_column", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # HTML forms send empty strings for fields left blank.
        return None if isinstance(value, str) and not value.strip() else value


__all__ = ["DatasetPage", "DatasetPreview", "UploadForm", "UploadOutcome"]

UploadOutcome = Literal["created", "existing"]
