"""The layout holds: the contracts in pyproject.toml ([tool.importlinter]) are kept, no module takes part in an
import cycle, and every feature plugs in through its `Feature` only."""

from __future__ import annotations

import logging
from pathlib import Path

import grimp
from importlinter.cli import lint_imports

from hall_controller.app import FEATURES
from hall_controller.core.feature import Feature

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hall_controller", "kiosk_ui", "display_board", "drivers", "region")


def test_import_contracts_are_kept() -> None:
    # import-linter configures logging with dictConfig, which disables every logger that exists (the hall's
    # included): later tests in the process would see no log records. Those loggers are enabled again.
    enabled = [lg for lg in logging.Logger.manager.loggerDict.values()
               if isinstance(lg, logging.Logger) and not lg.disabled]
    try:
        # The report (which contract broke, by which import chain) is printed to the captured output.
        assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0
    finally:
        for lg in enabled:
            lg.disabled = False


def test_no_import_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    imports = {m: graph.find_modules_directly_imported_by(m) & graph.modules for m in graph.modules}
    assert [sorted(c) for c in _cycles(imports)] == []


def test_every_feature_folder_is_listed_once() -> None:
    """Each folder under features/ is one `Feature` of that name in `FEATURES`, as are the kiosks and screens."""
    folders = {p.parent.name for p in (ROOT / "hall_controller" / "features").glob("*/feature.py")}
    assert folders == {p.name for p in (ROOT / "hall_controller" / "features").iterdir() if (p / "__init__.py").exists()}
    names = [f.name for f in FEATURES]
    assert sorted(names) == sorted({*folders, "kiosks", "screens"})
    assert all(isinstance(f, Feature) for f in FEATURES)


def test_cycles_are_found() -> None:
    assert sorted(map(sorted, _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}))) == [["a", "b", "c"]]


def _cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(imports[root])))]
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
                    work.append((child, iter(sorted(imports[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found
