"""mlpcli's modules import each other without a cycle, function-level imports included; start-up imports
only what the command needs."""

import ast
import subprocess
import sys

from .conftest import ROOT

PACKAGE = ROOT / "mlpcli"


def module_name(path) -> str:
    """mlpcli/cli.py -> "cli", mlpcli/commands/setup.py -> "commands.setup", mlpcli/commands/__init__.py -> "commands"."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict:
    """module -> the mlpcli modules it imports anywhere in its source (top level or inside functions),
    subpackages' modules included (named by dotted path: "commands.setup")."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py") if module_name(p)}
    graph = {}
    for name, path in paths.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("mlpcli")):
                base = package[:len(package) - node.level + 1] if node.level else []
                module = (node.module or "").split(".")
                target = base + (module if node.level else module[1:])
                targets = [".".join(target)] + [".".join([*target, a.name]) for a in node.names]  # `from . import x`
                deps.update(t for t in targets if t in paths)
            elif isinstance(node, ast.Import):
                deps.update(a.name.split(".", 1)[1] for a in node.names if a.name.startswith("mlpcli."))
        graph[name] = (deps & paths.keys()) - {name}
    return graph


def find_cycle(graph: dict) -> list | None:
    """A cycle [a, b, ..., a] by depth-first search, or None."""
    state, stack = {}, []

    def visit(v):
        state[v] = "open"
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == "open":
                return [*stack[stack.index(w):], w]
            if w not in state and (found := visit(w)):
                return found
        stack.pop()
        state[v] = "done"
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    assert "checkpoint" in graph["model"] and "model" in graph["trainer"] and "plots" in graph["cli"]
    assert {"cliutil", "commands.setup"} <= graph["cli"] and "starter" in graph["commands.setup"]


def test_no_import_cycle_in_mlpcli():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# What start-up must not pay for: the table reader (a config naming no table never reads one), the
# optional extras, and numpy.ma (which np.unique imports: about a tenth of a one-epoch run's start-up).
TABLE_READER = {"mlpcli.table", "mlpcli.csvread", "mlpcli.csvcolumns", "mlpcli.csvfields", "mlpcli.parquetread"}
EXTRAS = {"pyarrow", "pandas", "matplotlib", "optuna", "torch", "sklearn", "onnx", "onnxruntime", "mlflow", "tensorboard",
          "distributed", "dask"}


def modules_after(*argv) -> set:
    """The modules a fresh interpreter holds after running ``mlp ARGV...`` (the console entry point)."""
    code = ("import sys\nsys.argv = ['mlp', *sys.argv[1:]]\nfrom mlpcli.cli import main\ntry:\n    main()\n"
            "except SystemExit:\n    pass\nsys.stdout.write('\\n'.join(sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split("\n"))


def test_help_imports_neither_numpy_nor_pydantic():
    loaded = modules_after("--help")
    assert "mlpcli.cli" in loaded
    assert not loaded & {"numpy", "pydantic", "yaml", "mlpcli.config", *TABLE_READER, *EXTRAS}


def test_training_xor_imports_no_table_reader_nor_extras(tmp_path):
    loaded = modules_after("train", ROOT / "configs" / "xor.yaml", "--epochs", "1", "--quiet", "--out", tmp_path / "run")
    assert (tmp_path / "run" / "last.npz").exists() and "mlpcli.trainer" in loaded
    assert not loaded & {*TABLE_READER, *EXTRAS, "numpy.ma"}
