"""The hostile corpus of zips, through the real HTTP API: each is refused or cleaned with its reason."""

from __future__ import annotations

from functools import cache

import pytest
from dataset.testing import corpus
from dataset.testing.app import codes_of, make_settings, owner_headers, post_dataset, report_of, serve


def _named(*entries: tuple[str, bytes]) -> bytes:
    return corpus.image_zip(extra=entries)


JPEG = corpus.encode(corpus.photo(999))


@cache
def _hundred_thousand_entries() -> bytes:
    return corpus.many_entries_zip(100_000)


# (case id, zip builder, expected status, reason code that must be reported)
REFUSED = [
    ("slip-dotdot", lambda: _named(("../evil.jpg", JPEG)), "zip_path_traversal"),
    ("slip-inner-dotdot", lambda: _named(("cats/../../evil.jpg", JPEG)), "zip_path_traversal"),
    ("slip-backslash", lambda: _named(("cats\\..\\..\\evil.jpg", JPEG)), "zip_path_traversal"),
    ("slip-absolute", lambda: _named(("/etc/evil.jpg", JPEG)), "zip_absolute_path"),
    ("slip-drive-letter", lambda: _named(("C:/Windows/evil.jpg", JPEG)), "zip_absolute_path"),
    ("slip-unc-backslash", lambda: _named(("\\\\server\\share\\evil.jpg", JPEG)), "zip_absolute_path"),
    ("symlink", corpus.symlink_zip, "zip_symlink"),
    ("ratio-bomb", corpus.ratio_bomb_zip, "zip_ratio_exceeded"),
    ("100k-entries", _hundred_thousand_entries, "zip_too_many_entries"),
    ("overlapping", corpus.overlapping_zip, "zip_overlapping_entries"),
    ("not-a-zip", lambda: b"this is not a zip archive at all", "not_a_zip"),
    ("empty-zip", lambda: corpus.build_zip([]), "empty_archive"),
    ("single-class", lambda: corpus.image_zip({"cats": 12}), "too_few_classes"),
    ("empty-class-folder", lambda: _named(("birds/", b"")), "class_too_small"),
    ("class-below-minimum", lambda: corpus.image_zip({"cats": 12, "dogs": 9}), "class_too_small"),
    ("too-many-classes", lambda: corpus.image_zip({f"c{i}": 10 for i in range(101)}), "too_many_classes"),
]


@pytest.mark.parametrize(("build", "code"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
async def test_hostile_zip_is_refused_with_its_reason(client, build, code):
    response = await post_dataset(client, "upload.zip", build())

    assert response.status_code == 422, response.text
    report = report_of(response)
    assert report["verdict"] == "rejected"
    assert report["rejected_rule"] == code
    assert response.json()["error"]["message"].startswith("Rejected: ")


# Entries that are dropped with a reason while the rest of the set is accepted.
CLEANED = [
    ("pixel-bomb-png", lambda: ("cats/bomb.png", corpus.pixel_bomb_png()), "too_many_pixels"),
    (
        "truncated-jpeg",
        lambda: (
            "cats/cut.jpg",
            corpus.truncated(corpus.encode(corpus.photo(5, size=(256, 256)), quality=95)),
        ),
        "corrupt",
    ),
    (
        "truncated-png",
        lambda: ("cats/cut.png", corpus.truncated(corpus.encode(corpus.photo(6, size=(256, 256)), "PNG"))),
        "corrupt",
    ),
    ("renamed-executable", lambda: ("cats/setup.jpg", corpus.windows_executable()), "unsupported"),
    ("text-file", lambda: ("cats/notes.txt", b"just some notes"), "unsupported"),
    ("nested-zip-by-name", lambda: ("cats/more.zip", corpus.image_zip()), "nested_archive"),
    ("nested-zip-disguised", lambda: ("cats/more.jpg", corpus.image_zip()), "nested_archive"),
    (
        "tiny-image",
        lambda: ("cats/icon.png", corpus.encode(corpus.photo(7, size=(4, 4)), "PNG")),
        "too_small",
    ),
    (
        "exact-duplicate",
        lambda: ("cats/copy.jpg", corpus.class_entries({"cats": 1})[0][1]),
        "exact_duplicate",
    ),
    (
        "cross-class-duplicate",
        lambda: ("dogs/cat.jpg", corpus.class_entries({"cats": 1})[0][1]),
        "cross_class_duplicate",
    ),
    ("macos-junk", lambda: ("__MACOSX/cats/._0000.jpg", b"\x00\x05\x16\x07junk"), "junk_skipped"),
    ("ds-store", lambda: ("cats/.DS_Store", b"Bud1junk"), "junk_skipped"),
    ("thumbs-db", lambda: ("dogs/Thumbs.db", b"junk"), "junk_skipped"),
    ("loose-file", lambda: ("readme.jpg", JPEG), "file_outside_class_folder"),
]


@pytest.mark.parametrize(("entry", "code"), [c[1:] for c in CLEANED], ids=[c[0] for c in CLEANED])
async def test_bad_entry_is_dropped_with_its_reason_and_the_rest_accepted(client, entry, code):
    response = await post_dataset(
        client, "upload.zip", corpus.image_zip({"cats": 12, "dogs": 12}, extra=[entry()])
    )

    assert response.status_code == 201, response.text
    assert code in codes_of(response)
    problem = next(p for p in report_of(response)["problems"] if p["code"] == code)
    assert problem["message"]


async def test_encrypted_entry_is_skipped(client):
    response = await post_dataset(client, "upload.zip", corpus.encrypted_flag_zip())

    assert response.status_code == 201, response.text
    assert "encrypted_entry" in codes_of(response)
    assert response.json()["class_counts"] == {"cats": 12, "dogs": 12}


async def test_size_bomb_is_refused_by_bytes_read(tmp_path, sqlite_url, local_store):
    settings = make_settings(
        data_dir=tmp_path,
        database_url=sqlite_url,
        limits={"zip_max_total_bytes": 3_000_000, "zip_max_entry_bytes": 2_000_000},
    )
    async with serve(settings, store=local_store) as client:
        response = await post_dataset(
            client, "big.zip", corpus.size_bomb_zip(entries=4, entry_bytes=1_000_000)
        )

    assert response.status_code == 422, response.text
    assert report_of(response)["rejected_rule"] == "zip_total_too_large"


async def test_single_oversized_entry_is_refused(tmp_path, sqlite_url, local_store):
    settings = make_settings(
        data_dir=tmp_path, database_url=sqlite_url, limits={"zip_max_entry_bytes": 500_000}
    )
    async with serve(settings, store=local_store) as client:
        response = await post_dataset(client, "big.zip", corpus.size_bomb_zip(entries=1, entry_bytes=600_000))

    assert response.status_code == 422, response.text
    assert report_of(response)["rejected_rule"] == "zip_entry_too_large"


async def test_refused_upload_leaves_nothing_stored(client, local_store):
    response = await post_dataset(client, "upload.zip", corpus.symlink_zip())

    assert response.status_code == 422
    assert list(local_store.list("datasets/")) == []
    listing = await client.get("/datasets", headers=owner_headers())
    assert listing.json()["total"] == 0


async def test_rejected_report_still_counts_each_class(client):
    response = await post_dataset(client, "upload.zip", corpus.image_zip({"cats": 12, "dogs": 9}))

    classes = {c["name"]: c["found"] for c in report_of(response)["classes"]}
    assert classes == {"cats": 12, "dogs": 9}
    assert "'dogs' has 9 usable images" in response.json()["error"]["message"]


async def test_images_in_subfolders_belong_to_their_class_folder(client):
    response = await post_dataset(
        client, "upload.zip", corpus.image_zip({"cats": 12, "dogs": 12}, extra=[("cats/kittens/k.jpg", JPEG)])
    )

    assert response.json()["class_counts"] == {"cats": 13, "dogs": 12}


async def test_class_names_differing_only_in_case_are_flagged(client):
    response = await post_dataset(
        client, "upload.zip", corpus.image_zip({"cats": 12, "Cats": 12, "dogs": 12})
    )

    assert response.status_code == 201
    assert "label_case_variants" in codes_of(response)
