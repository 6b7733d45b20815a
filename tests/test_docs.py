"""Docs that do not drift (issue 18, item 6).

* The Sphinx API reference builds with warnings as errors and documents every public
  estimator.
* Every public estimator's Examples run as doctests, and the attributes its example's fit
  sets are all listed under Attributes.
* Every public estimator's docstring has Parameters, Attributes and Examples sections, and its
  Parameters section lists exactly the parameters of ``get_params()``, each with a type and the
  default the constructor really has.
"""

from __future__ import annotations

import ast
import doctest
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hilander import AutoCluster, Discoverer, HiLander, methods, supervised
from hilander.lander import SelectionSettings, TrainingSettings
from hilander.methods import BaseClusterer
from hilander.supervised import SupervisedClusterer

ROOT = Path(__file__).resolve().parents[1]


def _public_estimators() -> list[type]:
    out: list[type] = [HiLander, AutoCluster, Discoverer]
    for module, base in ((methods, BaseClusterer), (supervised, SupervisedClusterer)):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, base) and obj is not base:
                out.append(obj)
    return out


ESTIMATORS = _public_estimators()
IDS = [cls.__name__ for cls in ESTIMATORS]


def _sections(cls: type) -> dict[str, list[str]]:
    """numpydoc sections of ``cls``'s docstring: header -> the lines under its underline."""
    lines = (inspect.getdoc(cls) or "").splitlines()
    out: dict[str, list[str]] = {}
    current = None
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.strip() and nxt and set(nxt) == {"-"} and len(nxt) == len(line.strip()):
            current = line.strip()
            out[current] = []
            i += 2
            continue
        if current is not None:
            out[current].append(line)
        i += 1
    return out


def _entries(lines: list[str]) -> dict[str, str]:
    """``name : type`` lines of a Parameters / Attributes section (unindented after getdoc);
    ``a, b : type`` documents both names."""
    out = {}
    for line in lines:
        m = re.match(r"^(\w[\w, ]*?) : (.+)$", line)
        if m:
            for name in m.group(1).split(","):
                out[name.strip()] = m.group(2).strip()
    return out


def test_the_list_of_public_estimators_is_complete():
    # at least the 20 unsupervised methods, the 5 supervised GNNs, HiLander and AutoCluster
    assert len(ESTIMATORS) >= 27, IDS
    assert len(set(ESTIMATORS)) == len(ESTIMATORS)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_docstring_sections_and_parameters(cls):
    sections = _sections(cls)
    for header in ("Parameters", "Attributes", "Examples"):
        assert header in sections, f"{cls.__name__}'s docstring has no {header} section"
    documented = _entries(sections["Parameters"])
    params = cls().get_params(deep=False)
    missing = sorted(set(params) - set(documented))
    stale = sorted(set(documented) - set(params))
    assert not missing, f"{cls.__name__}: parameters not documented: {missing}"
    assert not stale, f"{cls.__name__}: documented parameters it does not have: {stale}"
    defaults = {n: p.default for n, p in inspect.signature(cls).parameters.items()}
    for name, spec in documented.items():
        m = re.fullmatch(r"(.+), default=(.+)", spec)
        assert m, f"{cls.__name__}.{name}: write 'name : type, default=value', got {spec!r}"
        assert m.group(1).strip(), f"{cls.__name__}.{name} has no type"
        try:
            value = ast.literal_eval(m.group(2))
        except (ValueError, SyntaxError):
            # a settings group at its defaults, e.g. HiLander's training=TrainingSettings()
            groups = {"TrainingSettings": TrainingSettings, "SelectionSettings": SelectionSettings}
            call = re.fullmatch(r"(\w+)\(\)", m.group(2))
            if call is None or call.group(1) not in groups:
                pytest.fail(f"{cls.__name__}.{name}: default {m.group(2)!r} is not a literal")
            value = groups[call.group(1)]()
        assert value == defaults[name] and type(value) is type(defaults[name]), (
            f"{cls.__name__}.{name}: documented default {m.group(2)} but the constructor's is "
            f"{defaults[name]!r}")
    assert _entries(sections["Attributes"]), f"{cls.__name__} documents no attribute"


def _run_doctests(obj, name: str) -> tuple[doctest.TestResults, list[dict], str]:
    """Run ``obj``'s own docstring examples; the globals they left and the failure report."""
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    globs = []
    for test in finder.find(obj, name, globs={}):
        runner.run(test, out=report.append, clear_globs=False)
        globs.append(dict(test.globs))
        test.globs.clear()
    return runner.summarize(verbose=False), globs, "".join(report)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_examples_run_and_fitted_attributes_are_documented(cls):
    result, globs, report = _run_doctests(cls, cls.__name__)
    assert result.attempted > 0, f"{cls.__name__} has no doctest example"
    assert result.failed == 0, f"{cls.__name__}'s Examples fail:\n{report}"
    documented = set(_entries(_sections(cls)["Attributes"]))
    fitted = [v for g in globs for v in g.values()
              if isinstance(v, cls) and hasattr(v, "n_features_in_")]
    assert fitted, f"{cls.__name__}'s example leaves no fitted {cls.__name__} to inspect"
    for est in fitted:
        set_in_fit = {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
        undocumented = sorted(set_in_fit - documented)
        assert not undocumented, (f"{cls.__name__} sets {undocumented} in fit but its "
                                  "Attributes section does not list them")


@pytest.mark.parametrize("module", [methods, supervised], ids=lambda m: m.__name__)
def test_module_examples_run(module):
    result, _, report = _run_doctests(module, module.__name__)
    assert result.attempted > 0
    assert result.failed == 0, report


def test_sphinx_build_has_no_warning(tmp_path):
    pytest.importorskip("sphinx", reason="sphinx is not installed (pip install -e '.[test]')")
    pytest.importorskip("numpydoc", reason="numpydoc is not installed (pip install -e '.[test]')")
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout}\n{proc.stderr}"
    api = (out / "api.html").read_text(encoding="utf-8")
    for cls in ESTIMATORS:
        top = (HiLander, AutoCluster, Discoverer)
        public = "hilander" if cls in top else cls.__module__.rsplit(".", 1)[0]
        target = f"{public}.{cls.__name__}"
        assert f'id="{target}"' in api, f"docs/api.rst does not document {target}"
    for target in ("hilander.methods.make", "hilander.methods.available", "hilander.methods.names",
                   "hilander.lander.DecodingSettings", "hilander.lander.run_hierarchy",
                   "hilander.lander.HierarchyResult", "hilander.lander.Recipe",
                   "hilander.graph.KNNGraph", "hilander.graph.build_knn_graph",
                   "hilander.graph.make_index", "hilander.metrics.evaluate",
                   "hilander.base.Param", "hilander.base.MetaTrainedClusterer",
                   "hilander.base.NotFittedError", "hilander.lander.TrainingSettings",
                   "hilander.lander.SelectionSettings", "hilander.metrics.map_at_r",
                   "hilander.base.Encoder", "hilander.study.ablation.ExperimentalHiLander",
                   "hilander.viewer.cluster_page", "hilander.viewer.cluster_keywords",
                   "hilander.viewer.central_items"):
        assert f'id="{target}"' in api, f"docs/api.rst does not document {target}"
