"""chainrule.set_num_threads / get_num_threads and the default BLAS thread policy (issue 14,
item 9). The speed the policy buys is measured in benchmarks/bench_threads.py, not here."""

from __future__ import annotations

import subprocess
import sys

import pytest

import chainrule as cr
from chainrule import _threads

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture
def restore_threads():
    before = cr.get_num_threads()
    yield
    cr.set_num_threads(before)


def _blas_threads() -> int:
    import numpy  # noqa: F401

    pools = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    return pools[0]["num_threads"]


def test_set_num_threads_changes_numpys_blas(restore_threads):
    for n in (2, 1):
        cr.set_num_threads(n)
        assert cr.get_num_threads() == n == _blas_threads()


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_set_num_threads_rejects_what_is_not_a_count(bad):
    with pytest.raises(ValueError, match="integer >= 1"):
        cr.set_num_threads(bad)


def test_without_threadpoolctl_set_says_what_to_install_and_get_reads_the_env(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    with pytest.raises(_threads.ThreadControlError, match="install threadpoolctl"):
        cr.set_num_threads(1)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    monkeypatch.delenv(_threads.ENV_VAR, raising=False)
    assert cr.get_num_threads() == 3
    assert "threadpoolctl missing" in _threads.thread_info()["source"]


@pytest.mark.parametrize("environ,expected", [
    ({}, _threads.DEFAULT_THREADS),
    ({"CHAINRULE_NUM_THREADS": "2"}, 2),
    ({"CHAINRULE_NUM_THREADS": "0"}, None),  # leave NumPy's pools alone
    ({"OPENBLAS_NUM_THREADS": "2"}, None),  # the user chose: keep it
    ({"OMP_NUM_THREADS": "4"}, None),
    ({"OMP_NUM_THREADS": "4", "CHAINRULE_NUM_THREADS": "1"}, 1),  # chainrule's own wins
])
def test_default_policy(environ, expected):
    assert _threads._default(environ) == expected


def test_a_bad_environment_value_warns_and_is_ignored():
    with pytest.warns(RuntimeWarning, match="CHAINRULE_NUM_THREADS"):
        assert _threads._default({"CHAINRULE_NUM_THREADS": "many"}) is None


def test_without_threadpoolctl_the_default_goes_through_the_environment(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    environ: dict[str, str] = {}
    monkeypatch.delitem(sys.modules, "numpy")  # as if NumPy were not loaded yet (put back
    assert _threads.apply_default(environ) == _threads.DEFAULT_THREADS  # after the test)
    assert environ == {"OPENBLAS_NUM_THREADS": str(_threads.DEFAULT_THREADS)}


def _threads_after_import(env: dict[str, str]) -> int:
    code = "import chainrule; print(chainrule.get_num_threads())"
    clean = {k: v for k, v in __import__("os").environ.items()
             if k not in _threads.USER_VARS and k != _threads.ENV_VAR}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1])


def test_importing_chainrule_applies_the_policy():
    assert _threads_after_import({}) == _threads.DEFAULT_THREADS
    assert _threads_after_import({"CHAINRULE_NUM_THREADS": "2"}) == 2
    assert _threads_after_import({"OPENBLAS_NUM_THREADS": "2"}) == 2  # the user's choice kept
