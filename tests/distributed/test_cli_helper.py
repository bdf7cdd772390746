"""cli/_distributed.py: what ``chainrule train --distributed`` uses, in one process."""

from __future__ import annotations

import argparse

import pytest

from chainrule.cli import _distributed
from chainrule.distributed import DistributedTrainer
from chainrule.errors import UsageError
from chainrule.train import Trainer


def _args(*argv):
    p = argparse.ArgumentParser()
    _distributed.add_arguments(p)
    return p.parse_args(list(argv))


def test_the_flag_picks_the_trainer_and_the_writer():
    assert _distributed.trainer_class(_args()) is Trainer
    assert _distributed.trainer_class(_args("--distributed")) is DistributedTrainer
    assert _distributed.writes(_args()) and _distributed.writes(_args("--distributed"))


def test_the_run_folder_comes_from_the_primary(tmp_path):
    for argv in ((), ("--distributed",)):
        assert _distributed.shared_run_dir(_args(*argv), lambda: tmp_path / "run") \
            == tmp_path / "run"

    def refuse():
        raise UsageError("--out holds a run")

    with pytest.raises(UsageError, match="holds a run"):
        _distributed.shared_run_dir(_args("--distributed"), refuse)
