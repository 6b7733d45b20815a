"""hilander._memory: freed blocks kept for the next allocation inside the block only."""

import resource
import subprocess
import sys

import numpy as np
import pytest

from hilander._memory import _libc, reuse_freed_memory


def _faults_of_reallocating(megabytes: int, times: int = 4) -> float:
    np.ones(megabytes << 17)  # 8-byte items: one allocation of `megabytes` MB, then freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        np.ones(megabytes << 17)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / times


@pytest.mark.skipif(_libc() is None, reason="glibc's mallopt only")
def test_a_freed_block_is_reused_inside_and_given_back_after():
    pages = (64 << 20) // resource.getpagesize()
    with reuse_freed_memory():
        inside = _faults_of_reallocating(64)
    # glibc maps a 64 MB block afresh on every allocation (above its 32 MB mmap cap), so each
    # one faults its pages in again; inside the block the freed one is simply reused
    assert inside < 0.01 * pages
    # after the block, in a fresh interpreter: the suite's earlier tests leave this process's
    # heap in a state (libraries' own mallopt calls, a large free top) that can serve the
    # block without a fresh mapping, which the comparison must not depend on
    code = ("import resource, numpy as np\n"
            "from hilander._memory import reuse_freed_memory\n"
            "with reuse_freed_memory():\n    np.ones(64 << 17)\n"
            "np.ones(64 << 17)\n"
            "b = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "for _ in range(4):\n    np.ones(64 << 17)\n"
            "print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - b) / 4)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert float(out.strip()) > 10 * max(inside, 1)


def test_it_decorates_and_passes_values_and_errors_through():
    @reuse_freed_memory()
    def twice(v):
        if v is None:
            raise ValueError("no value")
        return 2 * v

    assert twice(3) == 6 and twice(4) == 8  # a fresh block per call
    with pytest.raises(ValueError, match="no value"):
        twice(None)
