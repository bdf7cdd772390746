"""The classic architectures: Hopfield nets, Boltzmann machines, RBMs, DBNs and SOMs.

All are NumPy-vectorised and seeded; see ``docs/classic.md`` for the experiments.
"""

from .boltzmann import TRIPLETS, BoltzmannMachine, total_variation, triplet_experiment
from .dbn import DBN
from .hopfield import Hopfield, capacity_curve, spurious_states
from .rbm import RBM
from .som import SOM

__all__ = ["Hopfield", "BoltzmannMachine", "RBM", "DBN", "SOM", "capacity_curve",
           "spurious_states", "total_variation", "triplet_experiment", "TRIPLETS"]
