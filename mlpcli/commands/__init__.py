"""The commands of ``mlp`` beyond the core ones in ``cli.py``: one module per group, registered on the app by ``cli.py``."""
