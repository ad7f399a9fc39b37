"""Imports point down the layers, and no package reaches into another package's private modules.

The layers, lowest first, are the answer to "which way do imports point": a unit (a top-level module or
subpackage of ``workbench``) may import only units of lower layers. README's layout section lists the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "workbench"

LAYERS: list[set[str]] = [
    # foundations: no workbench imports but each other's public faces
    {
        "workbench",
        "paths",
        "policy",
        "provenance",
        "stats",
        "findings",
        "estimators",
        "datasets",
        "kinds",
        "_kernels",
        "spark",
    },
    {"spec"},
    {"features"},
    {"decision", "data"},
    {"training"},
    {"registry"},
    {"governance", "validation"},
    {"explain", "fairness", "reports"},
    {"serving"},
    {"pipeline", "notebook", "reproduce", "batch"},
    {"monitoring"},
    {"dashboard"},
    {"cli"},
]
LAYER_OF = {unit: height for height, units in enumerate(LAYERS) for unit in units}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in a file, relative ones resolved."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if path.name == "__init__.py":
        module = module.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found if name == "workbench" or name.startswith("workbench.")]


def _files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_unit_has_a_layer():
    units = {_unit(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)) for p in _files()}
    units = {u.removesuffix(".__init__") for u in units} - {"__init__"}
    missing = sorted(u for u in units if u not in LAYER_OF)
    assert not missing, f"units with no layer in tests/test_layers.py: {missing}"


def test_imports_point_down():
    upward = []
    for path in _files():
        source = _unit(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        if source == "__init__":
            source = "workbench"
        for line, target in _imports(path):
            unit = _unit(target)
            if unit == source or unit not in LAYER_OF:
                continue
            if LAYER_OF[unit] >= LAYER_OF[source]:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} ({source} -> {unit})")
    assert not upward, "imports that do not point down the layers:\n" + "\n".join(upward)


def test_no_private_imports_across_packages():
    private = []
    for path in _files():
        source = _unit(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        for line, target in _imports(path):
            parts = target.split(".")
            if _unit(target) == source or len(parts) < 3:
                continue
            if any(p.startswith("_") and not p.startswith("__") for p in parts[2:]):
                private.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not private, "imports of another package's private modules:\n" + "\n".join(private)


@pytest.mark.parametrize("detector", ["upward", "private"])
def test_the_checks_catch_a_violation(tmp_path, monkeypatch, detector):
    """The checks above fail on a planted violation (a check that cannot fail proves nothing)."""
    fake = tmp_path / "workbench"
    (fake / "spec").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "spec" / "__init__.py").write_text("")
    line = (
        "from workbench.serving import ModelServer\n"
        if detector == "upward"
        else "from workbench.data._load import x\n"
    )
    (fake / "spec" / "_schema.py").write_text(line)
    (fake / "serving").mkdir()
    (fake / "serving" / "__init__.py").write_text("")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    check = test_imports_point_down if detector == "upward" else test_no_private_imports_across_packages
    with pytest.raises(AssertionError, match="spec/_schema.py:1"):
        check()


def test_notebooks_use_the_public_api_only():
    """The notebooks are documents a validator reads: they import each package's public face, nothing private."""
    import json

    private = []
    for path in sorted((PACKAGE.parent / "notebooks").glob("*.ipynb")):
        for index, cell in enumerate(json.loads(path.read_text("utf-8"))["cells"]):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            tree = ast.parse(
                "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
            )
            for node in ast.walk(tree):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
                for name in names:
                    if name.startswith("workbench") and any(p.startswith("_") for p in name.split(".")[1:]):
                        private.append(f"{path.name} cell {index}: {name}")
    assert not private, "notebooks importing private modules:\n" + "\n".join(private)


def test_only_the_decision_package_compares_a_score_with_the_cut_off():
    """One home for the decision rule: nowhere else does code compare anything with a cut-off."""
    found = []
    for path in _files():
        if "decision" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Compare) and "cutoff" in ast.unparse(node):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "cut-off comparisons outside workbench/decision:\n" + "\n".join(found)


def test_statuses_have_one_home():
    """Lifecycle statuses are spelled through ``Status``; only the lifecycle module writes them as text."""
    from workbench.registry import Status

    spelled = []
    for path in _files():
        if path.name == "_lifecycle.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Compare):
                texts = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                if any(t in {"under_review", "production", "archived", "rejected"} for t in texts):
                    spelled.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {ast.unparse(node)}")
    assert not spelled, "statuses compared as bare strings:\n" + "\n".join(spelled)
    assert "under_review" in {s.value for s in Status}
