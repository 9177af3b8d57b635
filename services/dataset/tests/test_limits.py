"""Limits a user expects: every image used up to laptop-sized caps, small images kept and upscaled,
a set over the caps reported with counts, and a rejection's headline naming its cause."""

from __future__ import annotations

from dataset.testing import corpus
from dataset.testing.app import codes_of, post_dataset, report_of
from dataset.validation.limits import CLASSROOM, ValidationLimits


def small_photo_zip(classes: dict[str, int], *, side: int) -> bytes:
    return corpus.build_zip(
        (f"{name}/{i:04d}.png", corpus.encode(corpus.photo(c * 10_000 + i, size=(side, side)), "PNG"))
        for c, (name, count) in enumerate(classes.items())
        for i in range(count)
    )


def test_defaults_fit_a_laptop_sized_set_and_the_classroom_caps_are_an_example():
    limits = ValidationLimits()

    assert (limits.image_max_classes, limits.image_max_per_class) == (100, 5000)
    assert limits.zip_max_entries >= limits.image_max_per_class * 10
    assert (CLASSROOM.image_max_classes, CLASSROOM.image_max_per_class) == (10, 100)


async def test_every_image_of_a_set_above_the_old_cap_of_100_is_used(client):
    response = await post_dataset(client, "set.zip", corpus.image_zip({"cats": 150, "dogs": 245}))

    assert response.status_code == 201, response.text
    assert response.json()["class_counts"] == {"cats": 150, "dogs": 245}
    assert "class_capped" not in codes_of(response)


async def test_a_30_px_set_is_accepted_with_one_upscaling_warning(client):
    response = await post_dataset(
        client, "cifar-like.zip", small_photo_zip({"airplane": 15, "ship": 15}, side=30)
    )

    assert response.status_code == 201, response.text
    report = report_of(response)
    assert report["verdict"] == "accepted_with_warnings"
    assert report["num_items"] == 30
    upscaled = [p for p in report["problems"] if p["code"] == "upscaled"]
    assert len(upscaled) == 1
    assert "30 of 30 images are smaller than 32 pixels" in upscaled[0]["message"]
    assert "upscaled" in report["summary"]


async def test_a_class_over_the_default_cap_is_reported_with_its_counts(client):
    response = await post_dataset(client, "big.zip", small_photo_zip({"big": 5003, "small": 10}, side=16))

    assert response.status_code == 201, response.text
    assert response.json()["class_counts"] == {"big": 5000, "small": 10}
    capped = next(p for p in report_of(response)["problems"] if p["code"] == "class_capped")
    assert "'big' has 5003 usable images; the limit is 5000 per class" in capped["message"]
    assert "The other 3 are left out" in capped["message"]


async def test_rejection_headline_names_the_dominant_cause(client):
    tiny = [(f"airplane/{i}.png", corpus.encode(corpus.photo(i, size=(4, 4)), "PNG")) for i in range(12)]
    response = await post_dataset(client, "tiny.zip", corpus.image_zip({"ship": 12}, extra=tiny))

    assert response.status_code == 422, response.text
    report = report_of(response)
    assert report["rejected_rule"] == "class_too_small"
    assert report["summary"].startswith("Rejected: 12 images were skipped as too small")
    assert "smaller than 8 pixels" in report["summary"]
    assert report["summary"].endswith(
        "each class needs at least 10. Add images, fix the problems listed for this class, or remove it."
    )
