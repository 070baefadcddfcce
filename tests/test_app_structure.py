"""The app's shape, read from its imports (grimp, the graph import-linter uses): no
import cycles anywhere, only the entry point imports the main window, tools plug in
through the host, and no file grows past 400 lines."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "trainer", "l2i_desktop", "resources")


@pytest.fixture(scope="module")
def graph():
    # type-checking imports count too: a cycle hidden behind TYPE_CHECKING is a cycle
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False)


def cycles(graph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph.modules:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(
                        graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        group.append(m)
                        if m == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def test_the_cycle_finder_finds_a_cycle():
    """A control: the same finder on a made-up graph with one cycle."""
    g = grimp.ImportGraph()
    for a, b in (("x.a", "x.b"), ("x.b", "x.c"), ("x.c", "x.a"), ("x.c", "x.d")):
        g.add_import(importer=a, imported=b)
    assert cycles(g) == [["x.a", "x.b", "x.c"]]


def test_no_import_cycles_anywhere(graph):
    assert cycles(graph) == []


def test_only_the_entry_point_imports_the_main_window(graph):
    importers = graph.find_modules_that_directly_import("l2i_desktop.main_window")
    assert importers == {"l2i_desktop.main"}


def test_the_session_model_imports_neither_qt_nor_the_views(graph):
    for module in graph.find_children("l2i_desktop.model") | {"l2i_desktop.model"}:
        imported = graph.find_modules_directly_imported_by(module)
        assert not {m for m in imported if m.split(".")[0] in ("PySide6", "pyqtgraph")}
        assert not {m for m in imported if m.startswith("l2i_desktop.")
                    and not m.startswith("l2i_desktop.model")}, module


def test_tools_plug_in_through_the_host():
    """Each tool the window lists installs from a host, and sets nothing on the window."""
    from l2i_desktop import main_window

    names = [name for name, _ in main_window.TOOLS]
    assert names == ["display", "navigation", "corruption", "live", "report", "timeline",
                     "slime", "lmac", "figure", "labels"]
    for _, install in main_window.TOOLS:
        assert list(install.__annotations__) == ["host", "return"]
    for path in (ROOT / "l2i_desktop").glob("*.py"):
        text = path.read_text()
        for attr in ("window.timeline =", "window.slime_panel =", "window.corruption_dialog",
                     "menuBar().actions()"):
            assert attr not in text, f"{path.name}: {attr}"


def test_no_file_over_400_lines():
    long = []
    for package in (*PACKAGES, "tests", "scripts", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            n = len(path.read_text().splitlines())
            if n > 400:
                long.append(f"{path.relative_to(ROOT)}: {n}")
    assert long == []
