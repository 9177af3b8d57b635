"""``torch.save``'s file format written from numpy, without importing torch (~2.5 s of a quick run's
process start on 2 cores): the quick path writes ``model.pt`` with it.

The format (torch >= 1.6, "zipfile serialization"): an uncompressed zip whose ``archive/data.pkl`` is a
protocol-2 pickle of the object where each tensor is
``torch._utils._rebuild_tensor_v2(<storage>, offset, size, stride, requires_grad, OrderedDict())`` and
each storage a persistent id ``("storage", torch.<Type>Storage, "<key>", "cpu", numel)`` whose bytes
are the record ``archive/data/<key>``. Only the globals ``torch.load(..., weights_only=True)`` allows
are written; a test reads the file back with it and compares every tensor and value.
"""

from __future__ import annotations

import io
import struct
import zipfile
from typing import Any

import numpy as np

STORAGE_TYPES = {
    np.dtype(np.float32): "FloatStorage",
    np.dtype(np.float64): "DoubleStorage",
    np.dtype(np.float16): "HalfStorage",
    np.dtype(np.int64): "LongStorage",
    np.dtype(np.int32): "IntStorage",
    np.dtype(np.int16): "ShortStorage",
    np.dtype(np.int8): "CharStorage",
    np.dtype(np.uint8): "ByteStorage",
    np.dtype(np.bool_): "BoolStorage",
}
ARCHIVE = "archive"
ALIGNMENT = 64  # torch aligns storages so that a file can be memory-mapped


class _Pickle:
    """A protocol-2 pickle of dicts, lists, tuples, str, int, float, bool, None and numpy arrays."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.storages: list[np.ndarray] = []

    def dump(self, value: Any) -> bytes:
        self.out.write(b"\x80\x02")
        self._value(value)
        self.out.write(b".")
        return self.out.getvalue()

    def _global(self, module: str, name: str) -> None:
        self.out.write(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def _value(self, value: Any) -> None:  # noqa: C901 - one branch per pickled type
        write = self.out.write
        if value is None:
            write(b"N")
        elif value is True:
            write(b"\x88")
        elif value is False:
            write(b"\x89")
        elif isinstance(value, int):
            if -(2**31) <= value < 2**31:
                write(b"J" + struct.pack("<i", value))
            else:
                raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
                write(b"\x8a" + bytes([len(raw)]) + raw)
        elif isinstance(value, float):
            write(b"G" + struct.pack(">d", value))
        elif isinstance(value, str):
            raw = value.encode("utf-8", "surrogatepass")
            write(b"X" + struct.pack("<I", len(raw)) + raw)
        elif isinstance(value, dict):
            write(b"}(")
            for key, item in value.items():
                self._value(key)
                self._value(item)
            write(b"u")
        elif isinstance(value, list):
            write(b"](")
            for item in value:
                self._value(item)
            write(b"e")
        elif isinstance(value, tuple):
            write(b"(")
            for item in value:
                self._value(item)
            write(b"t")
        elif isinstance(value, np.ndarray):
            self._tensor(value)
        else:
            raise TypeError(f"cannot write {type(value).__name__} into a torch file")

    def _tensor(self, array: np.ndarray) -> None:
        storage_type = STORAGE_TYPES.get(array.dtype)
        if storage_type is None:
            raise TypeError(f"no torch storage for dtype {array.dtype}")
        array = np.require(array, requirements="C")  # (ascontiguousarray would make a 0-d array 1-d)
        key = str(len(self.storages))
        self.storages.append(array)
        self._global("torch._utils", "_rebuild_tensor_v2")
        self.out.write(b"((")
        self._value("storage")
        self._global("torch", storage_type)
        self._value(key)
        self._value("cpu")
        self._value(int(array.size))
        self.out.write(b"tQ")  # the persistent id tuple -> BINPERSID
        self._value(0)
        self._value(tuple(int(n) for n in array.shape))
        strides = np.cumprod((1, *array.shape[::-1][:-1]))[::-1] if array.ndim else ()
        self._value(tuple(int(s) for s in strides))
        self._value(False)
        self._global("collections", "OrderedDict")
        self.out.write(b")R")  # OrderedDict(): no backward hooks
        self.out.write(b"tR")


def save(value: Any) -> bytes:
    """What ``torch.save(value, buffer)`` writes, for ``value`` made of dicts, lists, tuples, str, int,
    float, bool, None and numpy arrays (which become CPU tensors of the same dtype and shape)."""
    pickler = _Pickle()
    data = pickler.dump(value)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{ARCHIVE}/data.pkl", data)
        archive.writestr(f"{ARCHIVE}/byteorder", "little")
        for key, array in enumerate(pickler.storages):
            name = f"{ARCHIVE}/data/{key}"
            info = zipfile.ZipInfo(name)
            # Pad the local header's extra field so the storage's bytes start aligned, as torch does.
            header = 30 + len(name.encode())
            start = buffer.tell() + header + 4
            info.extra = b"\xff\xff" + struct.pack("<H", -start % ALIGNMENT) + b"\0" * (-start % ALIGNMENT)
            archive.writestr(info, array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
        archive.writestr(f"{ARCHIVE}/version", "3\n")
    return buffer.getvalue()
