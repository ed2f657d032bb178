"""Keep a long-lived worker's memory flat: a fixed glibc mmap threshold.

glibc serves allocations over `M_MMAP_THRESHOLD` (128 KiB at start) with mmap and returns them to
the system on free, but it raises the threshold to the size of each mmapped block freed, up to
32 MiB. A worker that tags segment after segment frees multi-megabyte frame batches, so after the
first one every batch comes from the heap, which fragments and grows with every task: a shard
worker's peak RSS rose about 15 % over 25 segments of a 30-minute video. Fixing the threshold
(which also turns its adjustment off) keeps big buffers on mmap: peak RSS stays within a few
percent from the first segment to the last (`bench/bench_sharded.py`). Same effect as the
`MALLOC_MMAP_THRESHOLD_` environment variable, but set where every launcher (make run, compose,
Kubernetes, the tests) runs it.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
MMAP_THRESHOLD_BYTES = 256 * 1024


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """True when glibc took the setting; False on other C libraries (musl, macOS), left as they are."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, threshold) == 1
