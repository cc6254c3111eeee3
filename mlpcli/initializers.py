"""Weight initialisers ``W ~ init(fan_out, fan_in)``, keyed by config name. Biases start at 0.

``{from: PATH.npz}`` (explicit starting weights with checkpoint keys) is handled by
``MLP.from_config`` through the checkpoint reader, which checks every shape.
"""

import numpy as np
from pydantic import Field

from .errors import ConfigError, unknown_name
from .registry import Params, Registry


class NormalParams(Params):
    std: float = Field(0.01, gt=0, description="standard deviation")


def normal(rng, fan_out, fan_in, std):
    """W ~ N(0, std^2)."""
    return rng.normal(0.0, std, size=(fan_out, fan_in))


def xavier(rng, fan_out, fan_in):
    """Glorot & Bengio (2010): W ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)); suits tanh/sigmoid."""
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_out, fan_in))


def he(rng, fan_out, fan_in):
    """He et al. (2015): W ~ N(0, 2 / fan_in); suits ReLU (torch's kaiming_normal_)."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))


INITIALIZERS = Registry("initialiser", default="xavier")
INITIALIZERS.register("normal", normal, NormalParams, "W ~ N(0, std^2)")
INITIALIZERS.register("xavier", xavier, description="Glorot & Bengio: W ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out))")
INITIALIZERS.register("glorot", xavier, description="the same as xavier")
INITIALIZERS.register("he", he, description="He et al.: W ~ N(0, 2 / fan_in), for ReLU")


def init_weights(name: str, rng, layers, dtype, **params):
    """One weight matrix (out, in) per layer, drawn in float64 from ``rng`` then cast."""
    if name not in INITIALIZERS:
        raise ConfigError(unknown_name("initialiser", name, list(INITIALIZERS)))
    fn, params = INITIALIZERS[name], INITIALIZERS.entry(name).params(**params).model_dump()
    return [fn(rng, m, n, **params).astype(dtype) for n, m in zip(layers[:-1], layers[1:], strict=False)]
