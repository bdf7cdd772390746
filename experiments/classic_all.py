"""Run the classic experiments and write their figures to docs/figures.

    OPENBLAS_NUM_THREADS=1 python experiments/classic_all.py [hopfield boltzmann rbm dbn som]
"""

import argparse
import sys

from chainrule.cli_classic import MODELS, add_classic_parser, run_classic

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    add_classic_parser(p.add_subparsers(dest="command"))
    for m in sys.argv[1:] or MODELS:
        run_classic(p.parse_args(["classic", m, "--out", "docs/figures",
                                  "--data-dir", "/work/shared/data"]))
        sys.stdout.flush()
