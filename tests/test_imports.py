"""The import graph: every module imports alone, and the packages import each other without cycles,
config / errors / registry / fileio on the floor, the web lab imported by the command line only."""

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MODULES = sorted(
    ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
    for p in (SRC / "gankit").rglob("*.py")
)
RUNS_ON_IMPORT = ("gankit.__main__",)  # `python -m gankit`: importing it runs the command line
FLOOR = ("gankit.config", "gankit.errors", "gankit.registry", "gankit.fileio")  # import nothing but errors

# A parent that has imported the heavy third-party libraries (torch alone takes ~2 s) forks one child per
# gankit module; each child starts with no gankit module loaded, so each module still imports alone.
FORK_EACH = textwrap.dedent("""
    import importlib, os, sys, traceback
    import numpy, torch, PIL.Image, tqdm.auto
    try:
        import fastapi, uvicorn
    except ImportError:
        pass
    assert not [m for m in sys.modules if m.startswith("gankit")]
    failed = []
    for name in sys.argv[1:]:
        pid = os.fork()
        if pid == 0:
            try:
                importlib.import_module(name)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        if os.waitpid(pid, 0)[1] != 0:
            failed.append(name)
    print("FAILED", *failed)
    sys.exit(1 if failed else 0)
""")


@pytest.mark.parametrize("half", [0, 1])
def test_every_module_imports_alone(half):
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    modules = [m for m in MODULES if m not in RUNS_ON_IMPORT][half::2]
    result = subprocess.run([sys.executable, "-c", FORK_EACH, *modules], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def unit(module: str) -> str:
    """The node of the package graph a module belongs to: gankit.models.dcgan -> gankit.models."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def imports_of(path: Path, module: str) -> list[tuple[str, int]]:
    """(imported gankit module, line) for every import in the file, inside functions too, except those
    under `if TYPE_CHECKING:` (they never run)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *filter(None, [base])])
            for alias in node.names:  # `from gankit import plots` imports the module gankit.plots
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in MODULES else base, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return [(name, line) for name, line in found if name == "gankit" or name.startswith("gankit.")]


def package_graph() -> dict[str, dict[str, list[str]]]:
    """unit -> imported unit -> ["gankit/x/y.py:12 imports gankit.z", ...], edges within a unit left out."""
    graph: dict[str, dict[str, list[str]]] = {}
    for module in MODULES:
        path = SRC / Path(*module.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        edges = graph.setdefault(unit(module), {})
        for name, line in imports_of(path, module):
            if unit(name) != unit(module):
                edges.setdefault(unit(name), []).append(f"{path.relative_to(SRC)}:{line} imports {name}")
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One cycle as a list of nodes (first == last), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def test_the_packages_import_each_other_without_a_cycle():
    graph = package_graph()
    cycle = find_cycle(graph)
    if cycle:
        lines = [f"{a} -> {b}: " + "; ".join(graph[a][b]) for a, b in zip(cycle, cycle[1:])]
        pytest.fail("import cycle " + " -> ".join(cycle) + "\n" + "\n".join(lines))


def test_find_cycle_finds_one():
    # The checker itself: a planted cycle is found, a chain is not.
    assert find_cycle({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": []}, "b": {"c": []}}) is None


@pytest.mark.parametrize("floor", FLOOR)
def test_the_floor_imports_nothing_above_it(floor):
    above = {name: why for name, why in package_graph()[floor].items() if name != "gankit.errors"}
    assert not above, f"{floor} imports {above}"


def test_only_the_command_line_imports_the_web_lab():
    importers = {name: edges["gankit.lab"] for name, edges in package_graph().items() if "gankit.lab" in edges}
    assert set(importers) <= {"gankit.cli", "gankit.__main__"}, importers
