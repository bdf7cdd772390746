"""Launch a script of ``mpi_scripts/`` under ``mpirun -n N`` from a test.

The flags are those a CI container needs: ``--allow-run-as-root`` (and Open MPI 5's two
environment variables that allow it) and ``--oversubscribe`` (more ranks than cores on a
2-core machine). Tests skip, saying why, when mpi4py or mpirun is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent / "mpi_scripts"
FLAGS = ["--allow-run-as-root", "--oversubscribe"]


def mpirun() -> str:
    """The mpirun to use (next to this Python first); skip the test when there is none."""
    pytest.importorskip("mpi4py", reason='mpi4py is not installed (pip install "chainrule[mpi]")')
    here = Path(sys.executable).parent / "mpirun"
    found = str(here) if here.exists() else shutil.which("mpirun")
    if found is None:
        pytest.skip('no mpirun on PATH (pip install "chainrule[mpi]" brings Open MPI)')
    return found


def run_mpi(script: str, *args: str, n: int = 2, timeout: float = 120,
            check: bool = True) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``mpi_scripts/<script>`` on ``n`` ranks; returns (the finished process, seconds)."""
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMPI_MCA_btl_vader_single_copy_mechanism":
           "none", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [mpirun(), *FLAGS, "-n", str(n), sys.executable, str(SCRIPTS / script), *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    took = time.perf_counter() - t0
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n"
                             f"{proc.stderr}")
    return proc, took


def json_lines(proc: subprocess.CompletedProcess) -> list[dict]:
    """The JSON lines a script printed."""
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
