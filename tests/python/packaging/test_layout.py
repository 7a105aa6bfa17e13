"""The package's layout, as its imports show it: stages import only the stages before them.

The flow is sources -> landing -> build -> delta -> job -> report -> cli; `lake` (the lake's
layout) sits under everything, and the local service (`server`) beside the landing zone, after
the sources whose wire format it imitates; the privacy policy (`privacy`) before the landing
zone and the build, which both apply it. Imports inside functions and under TYPE_CHECKING count
too: a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import extractor

PACKAGE = Path(extractor.__file__).resolve().parent
# Each top-level part of `extractor` and how far along the flow it is.
LAYERS = {
    "lake": 0,
    "sources": 1,
    "privacy": 1,
    "server": 2,
    "landing": 2,
    "build": 3,
    "delta": 4,
    "job": 5,
    "report": 6,
    "cli": 7,
    "__main__": 8,
}
Graph = dict[str, set[str]]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The `extractor` modules a file imports, wherever in the file the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("extractor.")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("extractor"):
            found.add(str(node.module))
    return found


def package_graph() -> Graph:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imports_of(path) for name, path in modules.items()}


def layer(module: str) -> tuple[str, int]:
    top = module.split(".")[1] if "." in module else "extractor"
    return top, LAYERS.get(top, -1)


def late_imports(graph: Graph) -> list[str]:
    """Imports of a part of the package that is not before the importer's part in the flow
    (a package's __init__ re-exporting its own modules is not one)."""
    wrong = []
    for module, imported in sorted(graph.items()):
        for target in sorted(t for t in imported if not t.startswith(module + ".")):
            (top, rank), (target_top, target_rank) = layer(module), layer(target)
            if target_top != top and target_rank >= rank:
                wrong.append(f"{module} imports {target}")
    return wrong


def cycles(graph: Graph) -> list[list[str]]:
    """Import cycles; a package's __init__ importing its own modules is not one."""
    edges: Graph = defaultdict(set)
    for module, imported in graph.items():
        edges[module] = {target for target in imported if not target.startswith(module + ".")}
    state: dict[str, str] = {}
    found: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    return found


def test_every_part_of_the_package_has_a_place_in_the_flow() -> None:
    assert {layer(module)[0] for module in package_graph()} - {"extractor"} == set(LAYERS)


def test_no_module_imports_a_stage_later_in_the_flow() -> None:
    assert late_imports(package_graph()) == []


def test_no_import_cycle() -> None:
    assert cycles(package_graph()) == []


def test_the_two_sources_do_not_import_each_other() -> None:
    for module, imported in package_graph().items():
        for one, other in (("azure", "orthanc"), ("orthanc", "azure")):
            if module.startswith(f"extractor.sources.{one}"):
                assert not any(t.startswith(f"extractor.sources.{other}") for t in imported)


def test_the_checks_find_a_late_import_and_a_cycle() -> None:
    bad = {
        "extractor.sources.a": {"extractor.delta.b"},
        "extractor.delta.b": {"extractor.sources.a", "extractor.lake"},
        "extractor.delta": {"extractor.delta.b"},
        "extractor.lake": set(),
        "extractor": {"extractor.lake"},
    }
    assert late_imports(bad) == ["extractor.sources.a imports extractor.delta.b"]
    assert cycles(bad) == [["extractor.delta.b", "extractor.sources.a", "extractor.delta.b"]]
