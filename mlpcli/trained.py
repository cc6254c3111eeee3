"""A trained run read back from a checkpoint: the network with the config, meta, input
normalisation and task it was trained with (README "Python API")."""

from __future__ import annotations

from dataclasses import dataclass

from .checkpoint import find_checkpoint, read_checkpoint
from .errors import CheckpointError
from .model import MLP
from .task import Task, from_meta


@dataclass
class TrainedRun:
    """``model`` (an MLP), ``config`` (the resolved config), ``meta`` (epoch, step, metrics, ...),
    ``normalizer`` (input statistics fitted on the training split), ``task``, ``arrays`` (every
    array of the checkpoint) and ``path`` (the file read). Other attributes (``params``,
    ``layers``, ...) are the network's."""

    model: MLP
    config: object
    meta: dict
    normalizer: dict
    task: Task  # decided in training from the config and the data, stored in the checkpoint (task.py)
    arrays: dict
    path: str

    def forward(self, X, record: bool = False):
        """The network's outputs for inputs X as the network sees them (normalised as in training)."""
        return self.model.forward(X, record)

    def predict(self, X):
        """Class labels (classification) or outputs (regression) for inputs X, by the checkpoint's task."""
        from .metrics import predicted_classes

        A = self.model.forward(X)
        return predicted_classes(A) if self.task.classification else A

    def __getattr__(self, name):  # the network's attributes read through: run.params, run.layers, ...
        if name.startswith("__") or name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    def __repr__(self):
        return repr(self.model)


def load_checkpoint(path) -> TrainedRun:
    """The run a checkpoint (or a run directory's best.npz, else last.npz) holds, fully validated:
    ``load_checkpoint(path).predict(X)``."""
    path = find_checkpoint(path)
    arrays, meta, cfg = read_checkpoint(path)
    m = cfg.model
    try:
        task = from_meta(meta, m.layers[-1])
    except ValueError as e:
        raise CheckpointError(f"{path}: meta.task: {e}") from None
    net = MLP(m.layers, m.all_activations(), cfg.loss, bias=m.bias, dtype=cfg.training.dtype, l2=cfg.l2)
    net.set_params({k: arrays[k] for k in net.names})
    net.task = task  # the network's predict follows the task decided in training
    return TrainedRun(net, cfg, meta, meta.get("normalizer") or {"kind": "none"}, task, arrays, path)
