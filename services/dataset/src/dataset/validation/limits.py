"""The rules an upload must satisfy. An operator changes them with ``TRAINYARD_DATASET_LIMITS__<NAME>``
and ``GET /limits`` returns the ones in force.

The defaults are sized for "a small data set on a laptop": tens of classes, thousands of items per
class, every item the user uploads used. The seed projects' classroom caps (10 classes of at most 100
images, 200 MiB uploads, 5000 zip entries; 20 text classes of at most 1000 rows) were an upload
limit of their hosting; ``CLASSROOM`` holds them as an example of a stricter deployment
(README: "Limits").
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

MiB = 1024 * 1024


class ValidationLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Upload
    upload_max_bytes: int = Field(
        2048 * MiB, gt=0, description="hard cap on the uploaded file, counted while reading"
    )

    # Split
    val_fraction_min: float = Field(0.2, gt=0, lt=1)
    val_fraction_max: float = Field(0.3, gt=0, lt=1)
    val_fraction_default: float = Field(0.2, gt=0, lt=1)

    # Image data sets
    image_min_classes: int = Field(2, ge=2)
    image_max_classes: int = Field(100, ge=2)
    image_min_per_class: int = Field(10, ge=1)
    image_max_per_class: int = Field(
        5000, ge=1, description="larger classes are cut to a seeded random sample of this many images"
    )
    image_min_side: int = Field(
        8, ge=1, description="images whose shorter side is smaller are dropped (too little to learn from)"
    )
    image_small_side: int = Field(
        32,
        ge=1,
        description="images whose shorter side is smaller are kept and upscaled for training; "
        "the report warns once, with their count",
    )
    image_max_pixels: int = Field(
        50_000_000, gt=0, description="width x height cap; larger images are refused before decoding"
    )
    image_pack_max_side: int = Field(
        512, ge=32, description="stored copies are downscaled so the shorter side fits"
    )
    image_pack_jpeg_quality: int = Field(95, ge=50, le=100)
    near_duplicate_max_distance: int = Field(
        4,
        ge=0,
        le=32,
        description="dHash Hamming distance at or below which two images count as near-duplicates",
    )

    # Zip archive
    zip_max_entries: int = Field(60_000, ge=1)
    zip_max_entry_bytes: int = Field(64 * MiB, gt=0, description="decompressed bytes of one entry")
    zip_max_total_bytes: int = Field(
        8192 * MiB, gt=0, description="decompressed bytes of all entries together"
    )
    zip_max_ratio: float = Field(100.0, gt=1, description="decompressed / compressed bytes, per entry")
    zip_ratio_floor_bytes: int = Field(
        1 * MiB, ge=0, description="entries that decompress to less than this are exempt from the ratio cap"
    )

    # Text data sets
    text_min_classes: int = Field(2, ge=2)
    text_max_classes: int = Field(100, ge=2)
    # TREC-6's ABBR class has 86 distinct questions: a real, useful set must not be refused for that.
    text_min_per_class: int = Field(10, ge=1)
    text_max_per_class: int = Field(
        50_000, ge=1, description="larger classes are cut to a seeded random sample of this many rows"
    )
    text_min_chars: int = Field(2, ge=1, description="shorter texts (after trimming) are dropped")
    text_max_bytes: int = Field(200 * MiB, gt=0, description="a CSV larger than this is refused")
    csv_max_field_chars: int = Field(100_000, gt=0, description="rows with a longer field are dropped")

    # Report
    imbalance_warn_ratio: float = Field(
        1.5, gt=1, description="largest / smallest class count above which the report warns"
    )
    report_max_problems: int = Field(2000, ge=10, description="problems listed one by one; all are counted")

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> ValidationLimits:
        pairs = [
            ("val_fraction_min", "val_fraction_max"),
            ("image_min_classes", "image_max_classes"),
            ("image_min_per_class", "image_max_per_class"),
            ("text_min_classes", "text_max_classes"),
            ("text_min_per_class", "text_max_per_class"),
        ]
        for low, high in pairs:
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} must not exceed {high}")
        if not self.val_fraction_min <= self.val_fraction_default <= self.val_fraction_max:
            raise ValueError("val_fraction_default must lie between val_fraction_min and val_fraction_max")
        return self


# The seed projects' caps: an example of a stricter deployment (a classroom server), not the default.
CLASSROOM = ValidationLimits(
    upload_max_bytes=200 * MiB,
    image_max_classes=10,
    image_max_per_class=100,
    zip_max_entries=5000,
    zip_max_total_bytes=1024 * MiB,
    text_max_classes=20,
    text_max_per_class=1000,
    text_max_bytes=50 * MiB,
)
