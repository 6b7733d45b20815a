"""The package's layout holds: layers point one way, heavy study dependencies stay out of the
core, every package states its public names and no two modules share a file name."""

from __future__ import annotations

import ast
from pathlib import Path

import hilander

SRC = Path(hilander.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the hilander modules ``path`` imports (relative imports resolved)."""
    package = ".".join(("hilander", *path.relative_to(SRC).with_suffix("").parts))
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            out |= {f"{name}.{a.name}" for a in node.names}
    return {m for m in out if m.startswith("hilander")}


def test_lander_does_not_depend_on_the_baselines():
    for path in sorted((SRC / "lander").rglob("*.py")):
        bad = {m for m in imported_modules(path) if m.startswith("hilander.methods")}
        assert not bad, f"{path.name} imports {sorted(bad)}"
