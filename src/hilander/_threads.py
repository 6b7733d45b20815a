"""Torch CPU threads that fit the cores other processes leave free.

torch runs one OpenMP thread per core and its parallel regions wait for every thread. When
another process keeps a core busy, the thread on that core runs half the time and every
region waits for it, while the others spin: on 2 cores beside one busy process, fine-tuning
MiniLM ran 5x slower than alone, where one thread on the free core is only about 2x slower
(``benchmarks/encoder_speed.py``). :class:`ThreadGovernor` measures how many cores the other
processes use (Linux ``/proc/stat`` minus this process's own time) and sets torch's thread
count to the cores left, at the start of a training run and again every ``every`` seconds,
so a neighbour that starts or stops midway is followed. The count is restored afterwards.
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
    """Sets torch's CPU threads to the cores other processes leave free, now and then.

    Parameters
    ----------
    threads : int or None
        A fixed count (applied once, never changed); None: follow the load.
    every : float
        Seconds between two looks at the load.
    """

    def __init__(self, threads: int | None = None, every: float = 10.0) -> None:
        self.fixed = threads if threads is not None else _env_threads()
        self.every = every
        self.cores = available_cores()
        self._saved = torch.get_num_threads()
        self._last: tuple[float, tuple[float, float]] | None = None

    def __enter__(self) -> ThreadGovernor:
        self._saved = torch.get_num_threads()
        if self.fixed is not None:
            torch.set_num_threads(max(1, int(self.fixed)))
            return self
        first = _cpu_seconds()
        if first is not None:
            # a short first look: the run is about to start
            t = time.monotonic()
            time.sleep(0.2)
            self._last = (t, first)
            self._adjust()
        return self

    def __exit__(self, *exc) -> None:
        torch.set_num_threads(self._saved)

    def tick(self) -> None:
        """Call between steps; looks at the load when ``every`` seconds have passed."""
        if self._last is not None and time.monotonic() - self._last[0] >= self.every:
            self._adjust()

    def _adjust(self) -> None:
        now, counters = time.monotonic(), _cpu_seconds()
        if counters is None or self._last is None:
            return
        t0, (busy0, own0) = self._last
        wall = max(now - t0, 1e-3)
        others = max(0.0, (counters[0] - busy0) - (counters[1] - own0)) / wall
        self._last = (now, counters)
        threads = max(1, min(self.cores, int(self.cores - others + 0.5)))
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)

    @property
    def threads(self) -> int:
        return torch.get_num_threads()


#: the command line's ``--threads`` is passed down in this variable
ENV_VAR = "HILANDER_THREADS"


def _env_threads() -> int | None:
    for name in (ENV_VAR, "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None
