"""chainrule keeps freed heap memory between steps on glibc (see chainrule._allocator)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from chainrule import _allocator

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_glibc_accepts_the_top_pad() -> None:
    assert _allocator.keep_freed_memory(1 << 20) is True


def test_zero_or_another_platform_leaves_the_allocator_alone(monkeypatch) -> None:
    assert _allocator.keep_freed_memory(0) is False
    monkeypatch.setattr(sys, "platform", "darwin")
    assert _allocator.keep_freed_memory() is False


@pytest.mark.parametrize("value, applied", [("0", False), ("1048576", GLIBC), ("junk", GLIBC)])
def test_the_environment_variable_sets_or_disables_it(value, applied, monkeypatch) -> None:
    monkeypatch.setenv(_allocator.ENV_VAR, value)
    assert _allocator.configure_from_environment() is applied


def test_importing_chainrule_with_tuning_off_works() -> None:
    code = "import chainrule as cr; print(float((cr.tensor(2.0) * 3).item()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"CHAINRULE_MALLOC_TOP_PAD": "0", "PATH": ""}, check=True)
    assert out.stdout.strip() == "6.0"


MALLINFO = """
import ctypes, numpy as np
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
IMPORT
before = libc.mallinfo2().hblkhd
buffer = np.ones(2 << 20, dtype=np.uint8)  # 2 MiB, far above glibc's initial threshold
print(libc.mallinfo2().hblkhd - before)
"""


@pytest.mark.skipif(not GLIBC, reason="glibc only")
@pytest.mark.parametrize("tuning, mapped", [("", False), ("0", True)])
def test_step_sized_buffers_come_from_the_heap_whatever_was_imported(tuning, mapped) -> None:
    """A 2 MiB buffer is served from the heap once chainrule is imported (not mmapped, so
    its pages are not faulted in afresh at every step), unless tuning is turned off."""
    if not hasattr(__import__("ctypes").CDLL("libc.so.6"), "mallinfo2"):
        pytest.skip("glibc without mallinfo2 (< 2.33)")
    code = MALLINFO.replace("IMPORT", "import chainrule")
    env = {"PATH": "", "CHAINRULE_MALLOC_TOP_PAD": tuning} if tuning else {"PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert (int(out.stdout) >= 2 << 20) is mapped
