"""The code document layer (`distill_tui.codes`) stands on its own: no torch, no model, no import cycle."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import distill_tui.codes

CODES = Path(distill_tui.codes.__file__).parent
MODULES = sorted(p.stem for p in CODES.glob("*.py") if p.stem != "__init__")
# what the document layer may import from the rest of Distill: errors, the shared file/folder rules, and how
# counts are said (words: the standard library only, tests/test_words.py)
ALLOWED = {"errors", "fileio", "locations", "threads", "words"}  # threads: the package sets OpenMP waiting on import


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, imported module, inside a module-level `__getattr__`) for every import statement of a file."""
    tree = ast.parse(path.read_text())
    shims = {id(n) for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "__getattr__" for n in ast.walk(f)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, id(node) in shims) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names = [f"{base}.{a.name}" if not node.module else base for a in node.names]
            out += [(node.lineno, name, id(node) in shims) for name in names]
    return out


def test_importing_every_codes_module_loads_no_torch_and_no_model():
    code = (
        "import importlib, json, sys\n"
        f"for m in {MODULES!r}: importlib.import_module('distill_tui.codes.' + m)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'distill_tui.')))))"
    )
    root = CODES.parents[1]  # `python -c` puts its folder first on sys.path: this checkout's distill_tui
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         cwd=root).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    assert "torch" not in loaded
    outside = [m for m in loaded if not m.startswith("distill_tui.codes") and m.split(".")[1] not in ALLOWED]
    assert outside == [], outside


def test_codes_imports_point_one_way_and_form_no_cycle():
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        deps = graph.setdefault(name, set())
        for line, module, shim in _imports(CODES / f"{name}.py"):
            assert not shim, (name, line, module)  # no name resolved lazily from elsewhere
            assert module.split(".")[0] not in {"torch", "vector_quantize_pytorch", "textual"}, (name, line, module)
            if module.startswith(".."):
                assert module[2:].split(".")[0] in ALLOWED, f"codes/{name}.py:{line} imports {module}"
            elif module.startswith("."):
                deps.add(module[1:].split(".")[0])
    seen: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for dep in sorted(graph.get(node, ())):
            assert seen.get(dep) != 1, f"import cycle: {' -> '.join([*path, node, dep])}"
            if dep not in seen:
                visit(dep, [*path, node])
        seen[node] = 2

    for name in MODULES:
        if name not in seen:
            visit(name, [])
    assert "edits" not in graph["clipboard"]  # the cycle that the latent math used to force


def test_every_edit_is_importable_from_edits():
    from distill_tui.codes import edits as E

    assert json.dumps(E.__all__)  # the edits are all importable from `edits`, columns included
    assert all(hasattr(E, name) for name in E.__all__)
