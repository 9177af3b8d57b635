"""The launcher's process rules with real processes: a child dies with its launcher, and a crashing
service is restarted with doubling backoff (killing a dead trainer's training process is in
tests/edge/test_supervision.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
from common.embedded import Stack
from common.supervisor import Supervisor, describe_exit


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def test_a_child_started_with_die_with_parent_ends_when_its_parent_is_killed(tmp_path: Path):
    pid_file = tmp_path / "grandchild.pid"
    script = textwrap.dedent(
        f"""
        import subprocess, sys, time
        from common.supervisor import die_with_parent
        sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
        child = subprocess.Popen(sleeper, preexec_fn=die_with_parent)
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 20
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert wait_gone(grandchild), "the child outlived its killed parent"


class CrashingStack(Stack):
    """A stack whose one 'service' exits at once (a real process), counting its starts."""

    starts: list[float]

    def start_service(self, name, *, extra_env=None, host=None) -> None:
        self.starts.append(time.monotonic())
        self.processes[name] = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])


def test_a_crashing_service_is_restarted_with_doubling_backoff(tmp_path: Path):
    stack = CrashingStack(ports={"svc": 0}, data_dir=tmp_path)
    stack.starts = []
    stack.start_service("svc")
    lines: list[str] = []
    supervisor = Supervisor(stack, initial_backoff_s=0.2, max_backoff_s=0.8, log=lines.append)
    deadline = time.monotonic() + 6
    while len(stack.starts) < 5 and time.monotonic() < deadline:
        supervisor.poll()
        time.sleep(0.02)
    gaps = [b - a for a, b in zip(stack.starts, stack.starts[1:], strict=False)]
    assert len(gaps) == 4, lines
    # 0.2, 0.4, 0.8, then capped at 0.8 (plus the time the process takes to exit)
    for gap, delay in zip(gaps, [0.2, 0.4, 0.8, 0.8], strict=True):
        assert delay <= gap < delay + 1.0, (gaps, lines)
    assert "svc: exited with code 3" in lines[0]
    assert "restarting in 0.2 s (failure 1 in a row)" in lines[0]
    stack.stop()


def test_exit_descriptions_name_the_signal():
    assert describe_exit(-9) == "was killed by SIGKILL"
    assert describe_exit(1) == "exited with code 1"
