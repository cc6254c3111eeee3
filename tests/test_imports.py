"""mlpcli's modules import each other without a cycle, function-level imports included."""

import ast

from .conftest import ROOT

PACKAGE = ROOT / "mlpcli"


def import_graph() -> dict:
    """module -> the mlpcli modules it imports anywhere in its source (top level or inside functions)."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    graph = {}
    for path in PACKAGE.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level == 1 or (node.module or "").startswith("mlpcli")):
                parts = (node.module or "").split(".")
                target = parts[0] if node.level == 1 else (parts[1] if len(parts) > 1 else "")
                deps.update([target] if target else [a.name for a in node.names])  # `from . import x`
            elif isinstance(node, ast.Import):
                deps.update(a.name.split(".")[1] for a in node.names if a.name.startswith("mlpcli."))
        graph[path.stem] = (deps & modules) - {path.stem}
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


def test_no_import_cycle_in_mlpcli():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
