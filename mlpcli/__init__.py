"""mlpcli: multilayer perceptrons in pure NumPy, trained from YAML configs.

The public API (SPEC §6) is imported lazily, so that ``mlp --help`` does not pay for NumPy.
"""

__version__ = "0.1.0"

_API = {
    "load_config": "config", "Config": "config", "MLP": "model", "evaluate": "model",
    "load_checkpoint": "trained", "TrainedRun": "trained", "save_checkpoint": "checkpoint", "train": "trainer", "TrainResult": "trainer",
    "gradcheck": "gradient_check", "load_data": "data",
    "MLPError": "errors", "ConfigError": "errors", "DataError": "errors", "CheckpointError": "errors",
    "DivergenceError": "errors", "RunDirError": "errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'mlpcli' has no attribute {name!r}")
