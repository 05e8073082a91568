"""The package layout is the architecture: rooms, one-way dependencies, no cycles, torch only where models run."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "python_server" / "pathosam_server"
# Rooms from the bottom up; a module may import its own room and rooms below it. The plain-data modules
# at the top of the package (records, classes, errors, files) form the floor.
LAYERS = ["", "geometry", "analysis", "formats", "inference", "rpc", "batch", "finetune", "cli"]
FLOOR = {"records", "classes", "errors", "files", "__init__"}
TORCH_FREE = [
    "pathosam_server.records", "pathosam_server.classes", "pathosam_server.errors", "pathosam_server.files",
    "pathosam_server.geometry.coords", "pathosam_server.geometry.polygons", "pathosam_server.geometry.tiling",
    "pathosam_server.geometry.seams", "pathosam_server.formats.images", "pathosam_server.formats.geojson",
    "pathosam_server.batch.ledger", "pathosam_server.batch.journal", "pathosam_server.batch.sources",
    "pathosam_server.batch.run", "pathosam_server.batch.runner", "pathosam_server.rpc.client",
    "pathosam_server.formats.overlay", "pathosam_server.batch.qc", "pathosam_server.batch.report",
    "pathosam_server.batch.tables", "pathosam_server.analysis.measure", "pathosam_server.analysis.stains",
    "pathosam_server.cli",
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every pathosam_server module a file imports, at top level or inside functions."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("pathosam_server"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("pathosam_server"):
                continue
            # `from . import wire` names a module; `from .records import Rect` names a symbol
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                is_module = (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py").is_file() or (
                    PACKAGE.parent / Path(*candidate.split("."))).is_dir()
                out.add(candidate if is_module else target)
    return {m for m in out if m != name}


def _graph() -> dict[str, set[str]]:
    return {
        _module_name(p): _imports(p)
        for p in PACKAGE.rglob("*.py")
        if "grpc_api" not in p.parts
    }


def _room(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in FLOOR:
        return ""
    return parts[1]


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for dep in sorted(graph.get(m, ())):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                # a package's __init__ importing its own submodules is not a cycle of rooms
                cycle = path[path.index(dep):] + [dep]
                if not all(c.startswith(cycle[0] + ".") or c == cycle[0] for c in cycle):
                    pytest.fail("import cycle: " + " -> ".join(cycle))
            elif dep not in state:
                visit(dep)
        path.pop()
        state[m] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_dependencies_run_downwards() -> None:
    wrong = []
    for module, deps in _graph().items():
        room = _room(module)
        for dep in deps:
            dep_room = _room(dep)
            if dep.startswith("pathosam_server.grpc_api") and room != "rpc":
                wrong.append(f"{module} imports the generated stubs (only rpc/ may)")
            elif dep.startswith("pathosam_server._testing") and room != "_testing":
                wrong.append(f"{module} imports test-only code {dep}")
            elif room == "_testing" or dep_room in ("grpc_api", "_testing"):
                continue
            elif room in LAYERS and dep_room in LAYERS and LAYERS.index(dep_room) > LAYERS.index(room):
                wrong.append(f"{module} ({room or 'floor'}) imports {dep} ({dep_room}), a room above it")
    assert not wrong, "\n".join(sorted(wrong))


def test_rooms_are_the_tree() -> None:
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert rooms == set(LAYERS[1:]) | {"_testing", "grpc_api"}
    loose = {p.stem for p in PACKAGE.glob("*.py")}
    assert loose == FLOOR | {"__main__"}, "top-level modules are the plain-data floor only"


@pytest.mark.parametrize("module", TORCH_FREE)
def test_module_does_not_load_torch(module: str) -> None:
    code = f"import sys, {module}; sys.exit(3 if 'torch' in sys.modules else 0)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(PACKAGE.parent), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, f"importing {module} loads torch: {result.stderr[-2000:]}"


def test_product_files_stay_small() -> None:
    big = [f"{p.relative_to(PACKAGE)}: {n} lines" for p in PACKAGE.rglob("*.py")
           if "grpc_api" not in p.parts and (n := len(p.read_text(encoding="utf-8").splitlines())) > 400]
    assert not big, big


def test_one_version_for_python_and_java() -> None:
    import re

    import pathosam_server

    pom = (ROOT / "qupath_extension" / "pom.xml").read_text(encoding="utf-8")
    java_version = re.search(r"<artifactId>qupath-extension-pathosam</artifactId>\s*<version>([^<]+)</version>", pom)
    assert java_version, "pom.xml must declare the extension's version next to its artifactId"
    assert java_version.group(1).removesuffix("-SNAPSHOT") == pathosam_server.__version__
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and 'attr = "pathosam_server.__version__"' in pyproject
