"""The local executor's per-run work dir (``<data dir>/work/<run id>/``: each attempt's spec and log) is
removed by ``forget``, idempotently, and never anything outside it, whatever the id."""

from __future__ import annotations

import pytest
from trainer.executors.local import LocalExecutor
from trainer.settings import Settings


@pytest.fixture
def executor(tmp_path) -> LocalExecutor:
    return LocalExecutor(settings=Settings(environment="test", data_dir=tmp_path, log_json=False))


async def test_forget_removes_the_runs_work_dir_and_only_it(executor, tmp_path):
    for run_id in ("r1", "r2"):
        (tmp_path / "work" / run_id).mkdir(parents=True)
        (tmp_path / "work" / run_id / "attempt-1.log").write_text("epoch 1\n")
    await executor.forget("r1")
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["r2"]
    await executor.forget("r1")  # already gone: nothing to do
    await executor.forget("never-ran")


@pytest.mark.parametrize("run_id", ["", ".", "..", "../work", "r1/..", "/tmp"])
async def test_forget_refuses_anything_but_one_path_component(executor, tmp_path, run_id):
    (tmp_path / "work" / "r1").mkdir(parents=True)
    with pytest.raises(ValueError, match="not a run id"):
        await executor.forget(run_id)
    assert (tmp_path / "work" / "r1").exists()
