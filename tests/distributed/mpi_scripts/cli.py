"""Under ``mpirun -n N``: the ``chainrule`` command with the given arguments (what the
installed ``chainrule`` script runs), e.g. ``cli.py train --distributed --steps 10``.

``CHAINRULE_TEST_RAISE=RANK:STEP`` makes that rank raise RuntimeError in its STEP-th
training step (1-based), to test what a failing rank does to the run."""

import os
import sys

from chainrule.cli.main import main

if os.environ.get("CHAINRULE_TEST_RAISE"):
    from mpi4py import MPI

    from chainrule.train import Trainer

    fail_rank, fail_step = map(int, os.environ["CHAINRULE_TEST_RAISE"].split(":"))
    original = Trainer.train_step
    calls = [0]

    def train_step(self, batch):
        calls[0] += 1
        if MPI.COMM_WORLD.rank == fail_rank and calls[0] == fail_step:
            raise RuntimeError(f"test failure on rank {fail_rank} at step {fail_step}")
        return original(self, batch)

    Trainer.train_step = train_step

sys.exit(main(sys.argv[1:]))
