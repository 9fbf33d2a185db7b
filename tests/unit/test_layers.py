"""The layers of ledger hold: no import cycles, and no import runs against the grain.

Dependencies point inward (README, "Layout"): core <- storage, chain, media <- app <-
workers, api <- run <- cli. The graph is read from the source with `ast`, so a module is checked
whether or not anything imports it. Imports under ``if TYPE_CHECKING:`` run never and
are left out; imports inside functions run when called and count.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ledger"

#: Modules that do I/O (files, sockets, processes, databases, chains, threads): the
#: pure core imports none of them.
IO_MODULES = frozenset({
    "aiohttp", "aiosqlite", "alembic", "asyncio", "asyncpg", "http", "httpx",
    "multiprocessing", "os", "pathlib", "prometheus_client", "requests", "shutil",
    "socket", "sqlalchemy", "sqlite3", "ssl", "subprocess", "tempfile", "threading",
    "urllib", "urllib3", "uvloop", "web3",
})


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                found.extend(_runtime_imports_of(other))
            continue
        found.extend(_runtime_imports_of(child))
    return found


def _runtime_imports_of(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [node]
    return _runtime_imports(node)


def imported(path: Path, modules: set[str]) -> set[str]:
    """Every module `path` imports at run time: for ``from a import b``, ``a.b`` when
    that is a module of ledger, else ``a``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            base = f"{anchor}.{base}" if base else anchor
        for alias in node.names:
            full = f"{base}.{alias.name}"
            out.add(full if full in modules else base)
    return out


def graph() -> dict[str, set[str]]:
    """Each ledger module and the modules it imports at run time."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imported(p, modules) for p in paths}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, or of one that
    imports itself (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root] & edges.keys())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child] & edges.keys()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    found.append(sorted(component))
    return found


def _offenders(edges: dict[str, set[str]], layer: str, banned: tuple[str, ...]
               ) -> list[tuple[str, str]]:
    return sorted(
        (module, target)
        for module, targets in edges.items()
        if module == layer or module.startswith(layer + ".")
        for target in targets
        if any(target == b or target.startswith(b + ".") for b in banned)
    )


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert sorted(cycles(edges)) == [["a", "b", "c"], ["e"]]


def test_type_checking_imports_are_left_out(tmp_path: Path) -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import socket\n"
              "else:\n    import json\ndef f():\n    import os\n")
    tree = ast.parse(source)
    names = {a.name for n in _runtime_imports(tree) for a in n.names}
    assert names == {"TYPE_CHECKING", "json", "os"}


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_core_does_no_io() -> None:
    edges = graph()
    outside = [(m, t) for m, t in _offenders(edges, "ledger.core", ("ledger",))
               if not (t == "ledger.errors" or t.startswith("ledger.core"))]
    assert outside == []
    io = [(m, t) for m, targets in edges.items() if m.startswith("ledger.core")
          for t in targets if t.split(".")[0] in IO_MODULES]
    assert io == []


def test_use_cases_know_no_transport_or_process() -> None:
    assert _offenders(graph(), "ledger.app", ("ledger.api", "ledger.run", "ledger.cli")) == []


def test_storage_and_chain_do_not_import_each_other() -> None:
    edges = graph()
    assert _offenders(edges, "ledger.storage", ("ledger.chain",)) == []
    assert _offenders(edges, "ledger.chain", ("ledger.storage",)) == []


def test_media_imports_only_the_core() -> None:
    edges = graph()
    # The package itself (its __version__), errors, files and the core; nothing of a layer.
    outside = [(m, t) for m, t in _offenders(edges, "ledger.media", ("ledger",))
               if not (t in ("ledger", "ledger.errors", "ledger.files")
                       or t.startswith(("ledger.core", "ledger.media")))]
    assert outside == []
    for layer in ("ledger.core", "ledger.storage", "ledger.chain"):
        assert _offenders(edges, layer, ("ledger.media",)) == [], layer


def test_the_leaf_modules_import_no_layer() -> None:
    # errors and files are used by every layer, so they may use none.
    edges = graph()
    for leaf in ("ledger.errors", "ledger.files"):
        assert {t for t in edges[leaf] if t.startswith("ledger")} <= {"ledger.errors"}, leaf


def test_nothing_below_the_composition_root_imports_it() -> None:
    below = ("ledger.core", "ledger.storage", "ledger.chain", "ledger.app",
             "ledger.workers", "ledger.api")
    edges = graph()
    for layer in below:
        assert _offenders(edges, layer, ("ledger.run", "ledger.cli")) == [], layer
