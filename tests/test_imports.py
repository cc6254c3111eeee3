"""mlpcli's modules import each other without a cycle, function-level imports included."""

import ast

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
