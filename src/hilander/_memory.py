"""Keep freed memory in the process while a loop allocates the same large blocks again.

glibc serves blocks above its mmap threshold (at most 32 MB, often 128 KB) with a fresh
``mmap`` and unmaps them on free, and gives the heap's free top back to the system above its
trim threshold. A training step or a level's scoring allocates the same tens of megabytes on
every iteration, so every iteration paid for page faults on newly mapped, zeroed memory
(figures: ``benchmarks/results/speed.md``). :func:`reuse_freed_memory` raises both thresholds
for a block of work and gives the kept memory back at its end. Elsewhere than glibc it does
nothing.

The thresholds are the process's, and glibc has no call that reads them back, so a block
cannot restore what was there before it: it ends by setting the values glibc's own adaptive
thresholds settle at after large frees. The block is therefore not meant to nest (an inner
block's end would end the outer one's effect early); this module holds no state to detect
it, and the package uses it only where no block encloses another (a training loop, a
decoding search).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from collections.abc import Iterator

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap inside the block (a 10M-point level holds single
#: arrays of gigabytes, which stay mapped so that freeing them returns them at once).
KEEP_BELOW = 1 << 30
#: What glibc's adaptive thresholds settle at after large frees (its 64-bit cap for the mmap
#: threshold, and twice that for trimming): set at the end of a block.
AFTER_MMAP, AFTER_TRIM = 32 << 20, 64 << 20


def _libc():
    """The C library when it is glibc's (it has ``mallopt`` and ``malloc_trim``), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


@contextlib.contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """Inside the block, freed blocks below :data:`KEEP_BELOW` stay in the process for the
    next allocation; at its end the thresholds are set to :data:`AFTER_MMAP` and
    :data:`AFTER_TRIM` and the free memory is given back (``malloc_trim``)."""
    libc = _libc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, KEEP_BELOW)
    libc.mallopt(_M_TRIM_THRESHOLD, 2 * KEEP_BELOW)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, AFTER_MMAP)
        libc.mallopt(_M_TRIM_THRESHOLD, AFTER_TRIM)
        libc.malloc_trim(0)
