"""Keep freed memory in the process between training steps (glibc only).

A training step allocates and frees the same multi-megabyte buffers every time. With
glibc's defaults, memory freed at the top of the heap is handed back to the OS and the
next step faults every page in again: about a third of an LSTM step's time on a small
model (42 ms instead of 30 ms per step in benchmarks/bench_lstm.py's workload).
Raising glibc's ``M_TOP_PAD`` keeps up to ``pad`` bytes of freed heap for reuse instead.

Buffers larger than glibc's ``M_MMAP_THRESHOLD`` bypass the heap altogether: each gets
fresh pages from the OS and faults them in. glibc moves that threshold by itself (from
128 KiB up to 32 MiB) as the process frees large blocks, so without a fixed value the
speed of the same training step depends on what happened to be imported and freed
before it (an MLP step's pure-NumPy reference: 1.55 ms or 1.04 ms per step in one and
the same benchmark). The threshold is therefore fixed at ``min(pad, 32 MiB)``: buffers
up to that size always come from (and go back to) the heap.

Applied once when chainrule is imported, on Linux with glibc only. The price is that the
process may keep up to ``pad`` bytes (64 MiB by default) more resident than it needs.
Set ``CHAINRULE_MALLOC_TOP_PAD`` to a byte count to change it, or to ``0`` to leave the
allocator alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

ENV_VAR = "CHAINRULE_MALLOC_TOP_PAD"
DEFAULT_PAD = 64 << 20
_M_TOP_PAD = -2  # mallopt parameter numbers in glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 << 20  # glibc's largest accepted value on 64-bit


def keep_freed_memory(pad: int = DEFAULT_PAD) -> bool:
    """Ask glibc to keep ``pad`` bytes of freed heap memory for reuse, and to serve
    buffers up to ``min(pad, 32 MiB)`` from the heap; True if it did.

    A no-op returning False on other platforms and C libraries.
    """
    if not sys.platform.startswith("linux") or pad <= 0:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        gnu_get_libc_version = libc.gnu_get_libc_version  # glibc only (not musl)
    except (OSError, AttributeError):
        return False
    del gnu_get_libc_version
    kept = libc.mallopt(_M_TOP_PAD, ctypes.c_int(min(int(pad), 2**31 - 1)))
    fixed = libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(min(int(pad), _MMAP_THRESHOLD_MAX)))
    return bool(kept and fixed)


def configure_from_environment() -> bool:
    """:func:`keep_freed_memory` with the pad from ``CHAINRULE_MALLOC_TOP_PAD``."""
    value = os.environ.get(ENV_VAR, "").strip()
    try:
        pad = int(value) if value else DEFAULT_PAD
    except ValueError:
        pad = DEFAULT_PAD
    return keep_freed_memory(pad)
