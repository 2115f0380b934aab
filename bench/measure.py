"""Run one measured step as a subprocess: wall time, peak RSS of the process and of its process tree.

- `peak_rss_mb`: the subprocess's own peak resident set: its VmHWM from /proc, sampled every 0.1 s
  (VmHWM is the kernel's exact high-water mark; only growth in the last 0.1 s before exit is missed).
  Not ru_maxrss: Linux keeps ru_maxrss across fork+exec, so a child would report the parent's size.
- `peak_tree_rss_mb`: the largest sum of VmRSS over the subprocess and all its descendants, sampled
  every 0.1 s from /proc (psutil is not installed). A Postgres server's backends are not descendants:
  their memory is the server's, see the Postgres settings in the report.
- `cpu_s`: user + system CPU of the subprocess and its descendants: the kernel's count for the process and
  the children it waited for, or, when larger, the sum of the last values sampled every 0.1 s from /proc
  for the process and each descendant (Spark's JVM is a child that pyspark never waits for).
- `peak_spill_mb`: the largest disk space taken by the files in `spill_dir` (DuckDB's temp_directory, where
  it spills above memory_limit), sampled every 0.1 s; 0 when the step did not spill or has no such directory.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class StepResult:
    name: str
    command: list[str]
    returncode: int
    wall_s: float
    peak_rss_mb: float
    peak_tree_rss_mb: float
    stdout_path: str
    cpu_s: float = 0.0          # user + system CPU of the subprocess and its descendants (sampled)
    foreign_cpu_s: float = 0.0  # CPU the rest of the machine used meanwhile (other jobs, a DB server)
    load_before: float = 0.0
    peak_spill_mb: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, chars: int = 4000) -> str:
        try:
            return Path(self.stdout_path).read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    return children


def _rss_kb(pid: int, field: str = "VmRSS:") -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def directory_bytes(path: Path | None) -> int:
    """Disk blocks taken by the files under `path` (spill files are sparse: their length overstates them)."""
    if path is None:
        return 0
    total, stack = 0, [str(path)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return total


def tree_pids(root: int) -> list[int]:
    children = _children_map()
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far (its own threads, not its children)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().decode(errors="replace").rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy since boot (all cores)."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait_s: float, busy_share: float = 0.25) -> float:
    """Wait (at most max_wait_s) until the machine is mostly idle: others' test runs skew timings."""
    start = time.perf_counter()
    cores = os.cpu_count() or 1
    while time.perf_counter() - start < max_wait_s:
        before = machine_busy_s()
        time.sleep(1.0)
        if (machine_busy_s() - before) / cores < busy_share:
            break
    return round(time.perf_counter() - start, 1)


def run_step(name: str, command: list[str], env: dict[str, str], log_path: Path,
             cwd: str | None = None, timeout_s: float | None = None,
             spill_dir: Path | None = None) -> StepResult:
    """Run `command`, its output to `log_path`; returns wall time, peak memory and peak spill."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    peak_tree = 0
    peak_own = 0
    peak_spill = 0
    descendant_cpu: dict[int, float] = {}
    own_cpu_last = [0.0]  # last CPU seen of each descendant (a JVM that is never waited for)
    stop = threading.Event()
    load_before = os.getloadavg()[0]
    busy_before = machine_busy_s()
    with open(log_path, "w") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)

        def poll() -> None:
            nonlocal peak_tree, peak_own, peak_spill
            while not stop.is_set():
                pids = tree_pids(process.pid)
                peak_tree = max(peak_tree, sum(_rss_kb(pid) for pid in pids))
                for pid in pids[1:]:
                    descendant_cpu[pid] = max(descendant_cpu.get(pid, 0.0), _cpu_s(pid))
                peak_own = max(peak_own, _rss_kb(process.pid, "VmHWM:"))
                own_cpu_last[0] = max(own_cpu_last[0], _cpu_s(process.pid))
                peak_spill = max(peak_spill, directory_bytes(spill_dir))
                stop.wait(0.1)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        deadline = None if timeout_s is None else start + timeout_s
        status, rusage = 0, None
        while True:
            pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                process.kill()
                pid, status, rusage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
        stop.set()
        poller.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    busy = machine_busy_s() - busy_before
    cpu = (rusage.ru_utime + rusage.ru_stime) if rusage else 0.0
    # rusage counts the children the process waited for; Spark's JVM is not one of them. A waited child
    # seen by the sampler would count twice, so the larger of the two views is kept.
    cpu = max(cpu, own_cpu_last[0] + sum(descendant_cpu.values()))
    return StepResult(
        name=name,
        command=command,
        returncode=process.returncode,
        wall_s=round(wall, 3),
        peak_rss_mb=round(peak_own / 1024, 1),
        peak_tree_rss_mb=round(peak_tree / 1024, 1),
        stdout_path=str(log_path),
        cpu_s=round(cpu, 2),
        foreign_cpu_s=round(max(busy - cpu, 0.0), 2),
        load_before=round(load_before, 2),
        peak_spill_mb=round(peak_spill / 2**20, 1),
    )
