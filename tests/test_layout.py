"""The shape of explorer/ that the module map promises (explorer/__init__.py): torch only in backends/, no import
cycle, no test of a model kind by name outside the kind tables, and a page that imports without torch."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

EXPLORER = Path(__file__).resolve().parents[1] / "explorer"
TORCH = {"torch", "torchvision"}


def modules() -> dict[str, ast.Module]:
    """explorer's dotted module names -> their parsed source."""
    out = {}
    for path in sorted(EXPLORER.rglob("*.py")):
        parts = path.relative_to(EXPLORER.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(), str(path))
    return out


def imports(name: str, tree: ast.Module, is_package: bool) -> set[str]:
    """Every module `name` imports, at the top or inside a function, relative imports resolved."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}  # `from . import tools` names a module
    return found


def test_only_backends_import_torch():
    offenders = []
    for name, tree in modules().items():
        if name.startswith("explorer.backends"):
            continue
        is_pkg = (EXPLORER.parent / name.replace(".", "/") / "__init__.py").is_file()
        hits = {m for m in imports(name, tree, is_pkg) if m.split(".")[0] in TORCH}
        if hits:
            offenders.append(f"{name}: {sorted(hits)}")
    assert offenders == []


def test_no_import_cycle_inside_explorer():
    mods = modules()
    graph = {}
    for name, tree in mods.items():
        is_pkg = (EXPLORER.parent / name.replace(".", "/") / "__init__.py").is_file()
        graph[name] = {m for m in imports(name, tree, is_pkg) if m in mods and m != name}
    cycles = []

    def visit(node, path, seen):
        for nxt in graph[node]:
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in seen:
                seen.add(nxt)
                visit(nxt, path + [nxt], seen)

    for start in graph:
        visit(start, [start], {start})
    assert cycles == []


def test_no_kind_checks_by_name_outside_the_kind_tables():
    # `kind == "cvae"`, `info.kind != "ae"`, `"vae" == kind`; a numpy dtype's .kind is no model kind.
    pattern = re.compile(r"""(?<!dtype\.)\bkind\s*[!=]=|[!=]=\s*\w*\.?kind\b|["'](ae|vae|cvae)["']\s*[!=]=""")
    hits = [f"{p.relative_to(EXPLORER.parent)}:{i}: {line.strip()}" for p in EXPLORER.rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []


def test_the_page_and_the_tools_import_without_torch():
    code = ("import sys, app, explorer.ui, explorer.tools.traversal, explorer.tools.compare, explorer.tools.export; "
            "bad = sorted(m for m in ('torch', 'torchvision') if m in sys.modules); print(bad); assert not bad")
    run = subprocess.run([sys.executable, "-c", code], cwd=EXPLORER.parent, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_old_module_names_are_gone():
    for old in ("extras", "ztools", "ui_extras", "ui_ztools", "actions", "inference", "checks", "images",
                "gradio_fixes"):
        assert not (EXPLORER / f"{old}.py").exists(), old
