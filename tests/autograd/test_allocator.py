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
