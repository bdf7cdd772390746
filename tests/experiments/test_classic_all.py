"""experiments/classic_all.py, imported by path: the studies behind docs/classic.md."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "classic_all.py"


def _load():
    spec = importlib.util.spec_from_file_location("classic_all", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_unknown_model_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        _load().main(["hopfeld"])
    assert exc.value.code == 2 and "unknown model 'hopfeld'" in capsys.readouterr().err


@pytest.mark.slow
def test_dbn_beats_mlp_with_1_percent_labels(shared_data):
    semi_supervised_experiment = _load().semi_supervised_experiment

    r = semi_supervised_experiment(str(shared_data), seed=0)
    assert max(r["acc_dbn_generative"], r["acc_dbn_finetuned"]) > r["acc_mlp"]
