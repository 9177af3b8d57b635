"""One contract, two backends: every test runs against LocalStore and against S3Store on a moto server."""

from __future__ import annotations

import pytest
from common.store import LocalStore, ObjectNotFound, ObjectStore, object_chunks, validate_key


def test_put_then_get_returns_the_same_bytes(any_store: ObjectStore):
    any_store.put_bytes("a/b/c.bin", b"\x00\x01payload")
    assert any_store.get_bytes("a/b/c.bin") == b"\x00\x01payload"


def test_put_overwrites_an_existing_object(any_store: ObjectStore):
    any_store.put_bytes("k", b"one")
    any_store.put_bytes("k", b"two")
    assert any_store.get_bytes("k") == b"two"


def test_missing_key_raises_object_not_found(any_store: ObjectStore):
    with pytest.raises(ObjectNotFound):
        any_store.get_bytes("nope/missing")
    with pytest.raises(ObjectNotFound):
        any_store.open_stream("nope/missing")
    with pytest.raises(ObjectNotFound):
        any_store.size("nope/missing")


def test_exists_and_size_reflect_the_object(any_store: ObjectStore):
    assert not any_store.exists("x/y")
    any_store.put_bytes("x/y", b"12345")
    assert any_store.exists("x/y")
    assert any_store.size("x/y") == 5


def test_put_file_and_get_file_round_trip(any_store: ObjectStore, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(bytes(range(256)) * 1000)
    any_store.put_file("files/big.bin", str(src))
    dst = tmp_path / "dst.bin"
    any_store.get_file("files/big.bin", str(dst))
    assert dst.read_bytes() == src.read_bytes()


def test_open_stream_reads_in_chunks(any_store: ObjectStore):
    data = b"abc" * 100_000
    any_store.put_bytes("s/obj", data)
    with any_store.open_stream("s/obj") as f:
        chunks = []
        while chunk := f.read(65536):
            chunks.append(chunk)
    assert b"".join(chunks) == data
    assert len(chunks) > 1


def test_list_returns_keys_under_a_prefix_in_order(any_store: ObjectStore):
    for key in ["d/2", "d/1", "d/sub/3", "other/4", "dd/5"]:
        any_store.put_bytes(key, b"x")
    assert list(any_store.list("d/")) == ["d/1", "d/2", "d/sub/3"]
    assert list(any_store.list("d")) == ["d/1", "d/2", "d/sub/3", "dd/5"]
    assert list(any_store.list("missing/")) == []


def test_delete_removes_one_object_and_ignores_missing(any_store: ObjectStore):
    any_store.put_bytes("del/a", b"x")
    any_store.delete("del/a")
    any_store.delete("del/a")
    assert not any_store.exists("del/a")


def test_delete_prefix_removes_everything_under_it_only(any_store: ObjectStore):
    for key in ["p/a", "p/b/c", "q/a"]:
        any_store.put_bytes(key, b"x")
    assert any_store.delete_prefix("p/") == 2
    assert list(any_store.list("p/")) == []
    assert any_store.exists("q/a")


def test_ping_succeeds_on_a_reachable_store(any_store: ObjectStore):
    any_store.ping()


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "../x", "a/./b", "sp ace", "a/b/"])
def test_invalid_keys_are_refused(any_store: ObjectStore, key: str):
    with pytest.raises(ValueError):
        any_store.put_bytes(key, b"x")


def test_validate_key_accepts_ordinary_keys():
    assert validate_key("datasets/abc-1/manifest.json") == "datasets/abc-1/manifest.json"


async def test_object_chunks_streams_the_whole_object_in_bounded_chunks(any_store: ObjectStore):
    data = bytes(range(256)) * 10_000
    any_store.put_bytes("s/big", data)
    chunks = [chunk async for chunk in await object_chunks(any_store, "s/big", chunk_size=1 << 18)]
    assert b"".join(chunks) == data
    assert len(chunks) > 1 and max(map(len, chunks)) <= 1 << 18


async def test_object_chunks_of_a_missing_object_raises_before_any_response(any_store: ObjectStore):
    with pytest.raises(ObjectNotFound):
        await object_chunks(any_store, "nope/missing")


class ClosesCounted:
    """A LocalStore whose opened objects count their closes."""

    def __init__(self, store: ObjectStore) -> None:
        self.store, self.closed = store, 0

    def open_stream(self, key: str):
        stream, outer = self.store.open_stream(key), self

        class Counted:
            def read(self, size: int) -> bytes:
                return stream.read(size)

            def close(self) -> None:
                outer.closed += 1
                stream.close()

        return Counted()


async def test_object_chunks_closes_the_object_when_a_client_goes_away(tmp_path):
    store = ClosesCounted(LocalStore(tmp_path))
    store.store.put_bytes("s/big", b"x" * (3 << 18))
    chunks = await object_chunks(store, "s/big", chunk_size=1 << 18)
    assert len(await anext(chunks)) == 1 << 18
    await chunks.aclose()  # a consumer that stops early, e.g. for a client that went away
    assert store.closed == 1
