"""The shape of the tree (ARCHITECTURE.md): no import cycles, and the pipeline knows no model, no thermal
camera and no torch -- it reaches models only through the registry and the protocol."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rtvos"
MODEL_SIDE_API = {"rtvos.models", "rtvos.models.protocol", "rtvos.models.session", "rtvos.models.target"}


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _imports(path: Path, module: str) -> set[str]:
    """Every module `path` imports, at module level or inside functions (absolute names)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            out |= {f"{base}.{a.name}" for a in node.names} | {base}
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: {i for i in _imports(p, m) if i in mods and i != m} for m, p in mods.items()}


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node, path):
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_the_pipeline_reaches_models_only_through_the_registry_and_the_protocol():
    mods = _modules()
    for module, path in mods.items():
        if not module.startswith("rtvos.pipeline"):
            continue
        for imported in _imports(path, module):
            assert imported.split(".")[0] != "torch", (module, imported)
            assert not imported.startswith("rtvos.thermal"), (module, imported)
            if imported.startswith("rtvos.models") and imported in mods:
                assert imported in MODEL_SIDE_API, (module, imported)


def test_starting_a_stage_process_loads_no_torch_before_the_model():
    code = ("import sys\n"
            "import rtvos.pipeline.supervisor, rtvos.pipeline.stage, rtvos.pipeline.capture, rtvos.pipeline.infer, "
            "rtvos.pipeline.publish\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
