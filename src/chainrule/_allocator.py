"""Keep freed memory in the process between training steps (glibc only).

A training step allocates and frees the same multi-megabyte buffers every time. With
glibc's defaults, memory freed at the top of the heap is handed back to the OS and the
next step faults every page in again: about a third of an LSTM step's time on a small
model (42 ms instead of 30 ms per step in benchmarks/bench_lstm.py's workload).
Raising glibc's ``M_TOP_PAD`` keeps up to ``pad`` bytes of freed heap for reuse instead.

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
_M_TOP_PAD = -2  # mallopt parameter number in glibc's malloc.h


def keep_freed_memory(pad: int = DEFAULT_PAD) -> bool:
    """Ask glibc to keep ``pad`` bytes of freed heap memory for reuse; True if it did.

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
    return bool(libc.mallopt(_M_TOP_PAD, ctypes.c_int(min(int(pad), 2**31 - 1))))


def configure_from_environment() -> bool:
    """:func:`keep_freed_memory` with the pad from ``CHAINRULE_MALLOC_TOP_PAD``."""
    value = os.environ.get(ENV_VAR, "").strip()
    try:
        pad = int(value) if value else DEFAULT_PAD
    except ValueError:
        pad = DEFAULT_PAD
    return keep_freed_memory(pad)
