"""Torch CPU threads that fit the cores other processes leave free.

torch runs one OpenMP thread per core and its parallel regions wait for every thread. When
another process keeps a core busy, the thread on that core runs half the time and every
region waits for it, while the others spin: on 2 cores beside one busy process, fine-tuning
MiniLM ran 5x slower than alone, where one thread on the free core is only about 2x slower
(``benchmarks/encoder_speed.py``). :class:`ThreadGovernor` measures how many cores the other
processes use (Linux ``/proc/stat`` minus this process's own time) at the start of a training
run and sets torch's thread count to the cores left for the whole run, restoring it after.

The count is chosen once, not followed during the run: torch's sums split differently over 1
and 2 threads (fine-tuned MiniLM embeddings differ by about 1e-6 after one epoch), so a run
whose count changed midway could not be repeated. A run is repeated exactly by giving the
count it used (``threads_`` of the fitted encoder) as ``--threads`` or ``HILANDER_THREADS``.
Elsewhere than Linux, and when the user fixed the count (``threads=``, the command line's
``--threads``, or ``OMP_NUM_THREADS``), it does nothing but apply that count.
"""

from __future__ import annotations

import os
import time

import torch


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cpu_seconds() -> tuple[float, float] | None:
    """(seconds every core spent busy, seconds this process spent) so far; None off Linux."""
    try:
        with open("/proc/stat") as fh:
            fields = [float(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    busy = (sum(fields[:8]) - idle) / tick
    own = os.times()
    return busy, own.user + own.system


class ThreadGovernor:
    """Sets torch's CPU threads to the cores other processes leave free, for one run.

    Parameters
    ----------
    threads : int or None
        A fixed count; None: the cores left free when the run starts (``HILANDER_THREADS``
        or ``OMP_NUM_THREADS``, when set, fix it too).
    look : float
        Seconds spent measuring the other processes' load.
    """

    def __init__(self, threads: int | None = None, look: float = 0.3) -> None:
        self.fixed = threads if threads is not None else _env_threads()
        self.look = look
        self.cores = available_cores()
        self._saved = torch.get_num_threads()

    def __enter__(self) -> ThreadGovernor:
        self._saved = torch.get_num_threads()
        if self.fixed is not None:
            torch.set_num_threads(max(1, int(self.fixed)))
            return self
        others = busy_cores_of_others(self.look)
        if others is not None:
            torch.set_num_threads(max(1, min(self.cores, int(self.cores - others + 0.5))))
        return self

    def __exit__(self, *exc) -> None:
        torch.set_num_threads(self._saved)

    @property
    def threads(self) -> int:
        return torch.get_num_threads()


def busy_cores_of_others(seconds: float = 0.3) -> float | None:
    """Cores kept busy by other processes over the next ``seconds`` (None off Linux)."""
    first = _cpu_seconds()
    if first is None:
        return None
    t0 = time.monotonic()
    time.sleep(seconds)
    second = _cpu_seconds()
    wall = max(time.monotonic() - t0, 1e-3)
    return max(0.0, (second[0] - first[0]) - (second[1] - first[1])) / wall


#: the command line's ``--threads`` is passed down in this variable
ENV_VAR = "HILANDER_THREADS"


def _env_threads() -> int | None:
    for name in (ENV_VAR, "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None
