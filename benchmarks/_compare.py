"""Run a benchmark child against today's code and the new code, one thread each.

The machine these figures come from is shared (other jobs hold its two cores most of the
time), so wall-clock seconds measure the contention. Every measured child therefore runs in
its own process with one thread (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``,
threadpoolctl) and reports ``time.process_time()``: CPU seconds of that one thread, which
other jobs barely move. Wall seconds and the load average are printed beside them.

``base_src`` is the ``src`` folder of a git worktree of the code to compare with (e.g.
``git worktree add ../wt-base 8767c0f``); the child imports ``hilander`` from there through
``PYTHONPATH``, and from this checkout's ``src`` otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
NEW_SRC = HERE.parent / "src"
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}


def one_thread() -> None:
    """Inside a child: torch and every BLAS pool on one thread."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


def load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def run_child(script: Path, args: list[str], src: Path, *, threads: int = 1,
              nice: int = 10) -> dict:
    """Run ``script args`` with ``hilander`` imported from ``src``; the last stdout line is
    JSON and is returned (``{"error": ...}`` when the child failed)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    if threads == 1:
        env.update(ONE_THREAD)
    else:
        env.update({k: str(threads) for k in ONE_THREAD})
    cmd = ["nice", "-n", str(nice), sys.executable, str(script), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        tail = out.stderr.strip().splitlines()[-3:]
        return {"error": f"exit {out.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1])


def run_pair(script: Path, args: list[str], base_src: Path | None, *, jobs: int = 1,
             threads: int = 1) -> dict[str, dict]:
    """The child on today's code (``base_src``, when given) and on the new code, side by
    side when ``jobs`` > 1; ``{"today": ..., "new": ...}``."""
    runs = {"new": NEW_SRC} if base_src is None else {"today": base_src, "new": NEW_SRC}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {name: pool.submit(run_child, script, args, src, threads=threads)
                   for name, src in runs.items()}
        return {name: f.result() for name, f in futures.items()}
