"""Which objects a run's worker may reach through its attempt's token (``worker_objects``).

A worker holds no store credentials. Its token opens only:

- read: its data set (``datasets/<dataset>/``), its data set's feature cache (``features/<dataset>/``),
  the shared pretrained weights (``pretrained/``), and its own run's prefix (``runs/<run>/``, for the
  resume checkpoint);
- write: its own run's prefix and its data set's feature cache (both the same owner's), and the shared
  ONNX backbone cache (``pretrained/onnx/``) create-only: a graph already there is never replaced, so one
  run cannot change what another user's runs compute (the first export of a backbone fills it).

Everything else (another run, another data set, models, fixtures, an arbitrary key) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from common.contracts import dataset_prefix, features_prefix, run_prefix

Access = Literal["read", "write"]

PRETRAINED_PREFIX = "pretrained/"
SHARED_WRITE_ONCE_PREFIX = "pretrained/onnx/"


@dataclass(frozen=True)
class ObjectScope:
    run_id: str
    dataset_id: str

    def read_prefixes(self) -> tuple[str, ...]:
        return (
            run_prefix(self.run_id),
            dataset_prefix(self.dataset_id),
            features_prefix(self.dataset_id),
            PRETRAINED_PREFIX,
        )

    def write_prefixes(self) -> tuple[str, ...]:
        return (run_prefix(self.run_id), features_prefix(self.dataset_id), SHARED_WRITE_ONCE_PREFIX)

    def allows(self, key: str, access: Access) -> bool:
        """``key`` is a validated object key (or a list prefix ending in '/')."""
        prefixes = self.read_prefixes() if access == "read" else self.write_prefixes()
        return any(key.startswith(p) and len(key) > len(p) for p in prefixes)

    def allows_listing(self, prefix: str) -> bool:
        """A list prefix lies inside one readable prefix (listing ``runs/`` would name other runs)."""
        return any(prefix.startswith(p) for p in self.read_prefixes())

    @staticmethod
    def write_once(key: str) -> bool:
        return key.startswith(SHARED_WRITE_ONCE_PREFIX)
