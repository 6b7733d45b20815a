"""The package's layout holds: layers point one way, heavy study dependencies stay out of the
core, every package states its public names and no two modules share a file name."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

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


#: what only the extras install: the study's plots and images, the .parquet readers
EXTRAS_MODULES = ("matplotlib", "pandas", "pyarrow", "PIL")


def _run(code: str, *, block: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter; the modules of ``block`` cannot be imported there,
    as in an install without the extras (scikit-learn itself imports pandas when present)."""
    prelude = textwrap.dedent(f"""
        import sys

        class Uninstalled:  # finds the blocked packages, as an install without them would not
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {block!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

        sys.meta_path.insert(0, Uninstalled())
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=300)


def test_import_hilander_loads_no_study_or_table_package():
    out = _run(f"""
        import hilander
        print(sorted(m for m in sys.modules if m.split(".")[0] in {EXTRAS_MODULES!r}))
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_cluster_runs_without_the_extras(tmp_path):
    rng = np.random.default_rng(0)
    X = (np.repeat(np.eye(3, 8), 20, axis=0) + 0.05 * rng.standard_normal((60, 8)))
    np.save(tmp_path / "X.npy", X.astype(np.float32))
    np.savetxt(tmp_path / "X.csv", X, delimiter=",", header="a,b,c,d,e,f,g,h", comments="")
    out = _run(f"""
        from hilander.cli import main
        for name in ("X.npy", "X.csv"):
            assert main(["cluster", "--method", "kmeans", "--param", "n_clusters=3",
                         "{tmp_path}/" + name, "--out", "{tmp_path}/p.npy", "--quiet"]) == 0
        # the study's plotting package is not needed, nor loaded, to cluster
        print("matplotlib" in sys.modules, "PIL" in sys.modules)
    """, block=("pandas", "pyarrow"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
    assert np.unique(np.load(tmp_path / "p.npy")).size == 3


def test_the_study_says_which_extra_it_needs(tmp_path):
    out = _run(f"""
        from hilander.cli import main
        sys.exit(main(["bench", "omniglot", "--data-dir", "{tmp_path}", "--out",
                       "{tmp_path}/r"]))
    """, block=("matplotlib",))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "hilander: error: hilander bench needs pip install 'hilander[study]' (matplotlib is "
        "not installed)"]
    np.save(tmp_path / "X.npy", np.zeros((4, 2), np.float32))
    import pandas as pd

    pd.DataFrame({"f0": [0.0, 1.0], "f1": [1.0, 0.0]}).to_parquet(tmp_path / "X.parquet")
    out = _run(f"""
        from hilander.io import read_features
        read_features("{tmp_path}/X.parquet")
    """, block=("pandas",))
    assert "reading .parquet files needs pip install 'hilander[io]'" in out.stderr


#: file names two modules may share: one concept at two layers (a command and its library
#: module, the shared training loop and Hi-LANDER's use of it), each docstring naming the other
TWO_LAYERS = {"assign.py", "auto.py", "bench.py", "diagnose.py", "training.py", "tune.py"}


def _dotted(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(("hilander", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def test_no_two_modules_share_a_file_name_unless_one_concept_at_two_layers():
    by_name: dict[str, list[Path]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if path.name not in ("__init__.py", "__main__.py"):
            by_name.setdefault(path.name, []).append(path)
    shared = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    assert set(shared) <= TWO_LAYERS, sorted(set(shared) - TWO_LAYERS)
    for paths in shared.values():
        assert len(paths) == 2, paths
        for path, other in (paths, paths[::-1]):
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            assert _dotted(other) in doc and "two layers" in doc, path


def test_every_package_states_its_public_names():
    for init in sorted(SRC.rglob("__init__.py")):
        module = importlib.import_module(_dotted(init))
        names = getattr(module, "__all__", None)
        assert names, f"{module.__name__} states no __all__"
        for name in names:
            assert getattr(module, name, None) is not None, f"{module.__name__}.{name}"
