"""The layers of exporter/, checked on its import graph: every `import` and `from ... import`
of every module, at the top, inside functions and behind `if TYPE_CHECKING:` alike.

The rule: a module imports from its own layer and from the layers below it, never from a layer
above (a back-up import); the parts of a layer marked independent do not import each other;
and no modules import each other in a cycle, inside one package included. And no module is
longer than a newcomer reads at one sitting (400 lines)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO


MAX_LINES = 400


@dataclass(frozen=True)
class Layer:
    name: str
    parts: tuple[str, ...]  # modules, and packages with everything in them ("name.*")
    independent: bool = False  # its parts do not import each other


# Top to bottom: the one statement of the layers (docs/architecture.md explains them).
LAYERS = (
    Layer("entry points", ("exporter.__main__", "exporter.cli", "exporter.demo",
                           "exporter.healthcheck")),
    # the running exporter, and the simulated Bybit of --demo and the tests: neither uses
    # the other
    Layer("service, simulator", ("exporter.service.*", "exporter.simulator.*"),
          independent=True),
    # the web server: given callables and a StatusView (exporter.web.status), it knows
    # nothing of the service that fills them
    Layer("web", ("exporter.web.*",)),
    Layer("config", ("exporter.config", "exporter.config_syntax")),
    Layer("bybit", ("exporter.bybit.*",)),  # signing, client, endpoint modules
    # families, health and reasons, fields, /metrics rendering of whatever families it is given
    Layer("metrics", ("exporter.metrics.*",)),
    Layer("base", ("exporter", "exporter.account", "exporter.build", "exporter.logs",
                   "exporter.pool")),
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    where: str  # path:line of the statement

    def __str__(self) -> str:
        return f"{self.where} imports {self.imported}"


def modules_under(root: Path, package: str = "exporter") -> dict[str, Path]:
    """Every module of the package under `root`, by dotted name."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(name: str, path: Path, known: set[str], root: Path) -> list[Import]:
    """The modules of `known` that a module imports, wherever the statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    where = path.relative_to(root)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            # `from package import module` imports that module; else the names are attributes
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        found += [Import(name, target, f"{where}:{node.lineno}") for target in targets
                  if target in known and target != name]
    return list(dict.fromkeys(found))  # once per statement and module


def _absolute(module: str | None, level: int, package: str) -> str:
    if level == 0:
        return module or ""
    base = package.split(".")[:len(package.split(".")) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def import_graph(root: Path = REPO) -> list[Import]:
    modules = modules_under(root)
    return [found for name, path in modules.items()
            for found in imports_of(name, path, set(modules), root)]


def part_of(module: str, layers: tuple[Layer, ...]) -> tuple[int, str] | None:
    """(layer index, part) of the part that holds the module."""
    for index, layer in enumerate(layers):
        for part in layer.parts:
            package = part.removesuffix(".*")
            if module == package or part.endswith(".*") and module.startswith(package + "."):
                return index, part
    return None


def layer_problems(graph: list[Import], modules: set[str],
                   layers: tuple[Layer, ...] = LAYERS) -> list[str]:
    problems = [f"{module} is in no layer: add it to LAYERS in tests/test_layers.py"
                for module in sorted(modules) if part_of(module, layers) is None]
    for found in graph:
        importer, imported = part_of(found.importer, layers), part_of(found.imported, layers)
        if importer is None or imported is None or importer[1] == imported[1]:
            continue
        (low, part), (high, target) = importer, imported
        if high < low:
            problems.append(f"{found}: a back-up import ({layers[low].name} may not import "
                            f"{layers[high].name}, a layer above it)")
        elif high == low and layers[low].independent:
            problems.append(f"{found}: {part.removesuffix('.*')} and "
                            f"{target.removesuffix('.*')} are independent ({layers[low].name})")
    return problems


def cycles(graph: list[Import]) -> list[list[Import]]:
    """Each cycle of imports (a strongly connected set of modules), as the imports within it."""
    edges: dict[str, list[Import]] = {}
    for found in graph:
        edges.setdefault(found.importer, []).append(found)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found_cycles = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for edge in edges.get(module, []):
            if edge.imported not in index:
                visit(edge.imported)
                low[module] = min(low[module], low[edge.imported])
            elif edge.imported in stack:
                low[module] = min(low[module], index[edge.imported])
        if low[module] == index[module]:  # the root of a component: pop it off the stack
            members = set(stack[stack.index(module):])
            del stack[stack.index(module):]
            if len(members) > 1:
                found_cycles.append([edge for member in sorted(members)
                                     for edge in edges.get(member, [])
                                     if edge.imported in members])

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found_cycles


def problems_of(graph: list[Import], modules: set[str],
                layers: tuple[Layer, ...] = LAYERS) -> list[str]:
    return layer_problems(graph, modules, layers) + [
        "an import cycle: " + "; ".join(map(str, cycle)) for cycle in cycles(graph)]


# -- the exporter as it is -------------------------------------------------------------------

def test_the_exporter_keeps_its_layers_and_has_no_import_cycle():
    problems = problems_of(import_graph(), set(modules_under(REPO)))
    assert not problems, "\n".join(problems)


def test_no_module_is_over_400_lines():
    lengths = {name: len(path.read_text().splitlines())
               for name, path in modules_under(REPO).items()}
    assert not {name: n for name, n in lengths.items() if n > MAX_LINES}


def test_the_graph_holds_the_imports_behind_type_checking_and_inside_functions():
    graph = {(found.importer, found.imported) for found in import_graph()}
    assert ("exporter.bybit.endpoints.wallet", "exporter.account") in graph  # TYPE_CHECKING
    assert ("exporter.demo", "exporter.simulator") in graph  # inside a function
    assert ("exporter.bybit.client", "exporter.bybit.signing") in graph  # from a package


# -- what it catches, planted in a tree of its own --------------------------------------------

PLANTED = {
    "exporter/__init__.py": "",
    "exporter/metrics/__init__.py": "",
    "exporter/metrics/render.py": "from exporter.metrics.family import Family\n",
    "exporter/metrics/family.py": ("from typing import TYPE_CHECKING\n"
                                   "if TYPE_CHECKING:\n"
                                   "    from exporter.bybit.endpoint import Endpoint\n"),
    "exporter/bybit/__init__.py": "",
    "exporter/bybit/endpoint.py": "from exporter.bybit.ledger import Source\n",
    "exporter/bybit/ledger.py": ("def source():\n"
                                 "    from .endpoint import Endpoint\n"),
    "exporter/service/__init__.py": "",
    "exporter/service/poller.py": "from exporter.simulator import server\n",
    "exporter/simulator/__init__.py": "",
    "exporter/simulator/server.py": "import exporter.metrics.render\n",
    "exporter/stray.py": "",
}


def plant(root: Path) -> tuple[list[Import], set[str]]:
    for name, text in PLANTED.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return import_graph(root), set(modules_under(root))


def test_a_back_up_import_fails_naming_it_even_behind_type_checking(tmp_path):
    problems = problems_of(*plant(tmp_path))
    assert ("exporter/metrics/family.py:3 imports exporter.bybit.endpoint: a back-up import "
            "(metrics may not import bybit, a layer above it)") in problems


def test_an_import_between_independent_parts_fails_naming_it(tmp_path):
    problems = problems_of(*plant(tmp_path))
    assert ("exporter/service/poller.py:1 imports exporter.simulator.server: exporter.service "
            "and exporter.simulator are independent (service, simulator)") in problems


def test_a_cycle_fails_naming_each_import_in_it_a_function_level_one_included(tmp_path):
    problems = problems_of(*plant(tmp_path))
    assert ("an import cycle: exporter/bybit/endpoint.py:1 imports exporter.bybit.ledger; "
            "exporter/bybit/ledger.py:2 imports exporter.bybit.endpoint") in problems


def test_a_module_in_no_layer_fails_and_the_rest_passes(tmp_path):
    problems = problems_of(*plant(tmp_path))
    assert "exporter.stray is in no layer: add it to LAYERS in tests/test_layers.py" in problems
    assert len(problems) == 4, problems  # render -> family and simulator -> metrics are fine
