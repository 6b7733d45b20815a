"""Docs that do not drift (issue 18, item 6; the guide and the short README: issue 27).

* The Sphinx docs build with warnings as errors; the API reference documents every public
  estimator, and the guide has every page.
* The CLI reference is generated from the parsers: every command, every form and every option
  of ``hilander.cli.build_parser()`` is on the page, and an option added to a parser appears
  there without editing the docs.
* The README stays short (at most 200 lines) and its test command is ``.ci/run``'s, verbatim.
* The docs and the README cite only tests, benchmark scripts and reports that exist, and the
  Read-the-Docs config builds them as the tests do.
* Every public estimator's Examples run as doctests, and the attributes its example's fit
  sets are all listed under Attributes.
* Every public estimator's docstring has Parameters, Attributes and Examples sections, and its
  Parameters section lists exactly the parameters of ``get_params()``, each with a type and the
  default the constructor really has.
"""

from __future__ import annotations

import argparse
import ast
import doctest
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hilander import AutoCluster, Discoverer, HiLander, methods, supervised
from hilander.cli import COMMAND_MODULES, build_parser
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


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """One Sphinx build of docs/ (warnings are errors) for every test that reads its pages."""
    pytest.importorskip("sphinx", reason="sphinx is not installed (pip install -e '.[test]')")
    pytest.importorskip("numpydoc", reason="numpydoc is not installed (pip install -e '.[test]')")
    out = tmp_path_factory.mktemp("docs") / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    return proc, out


def test_sphinx_build_has_no_warning(built_docs):
    proc, out = built_docs
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


# -- the guide ----------------------------------------------------------------------------------

#: the guide's pages (issue 27): docs/<page>.rst, each linked from the front page
GUIDE_PAGES = ("getting_started", "own_data", "choosing", "how_it_works", "large_data",
               "reproducing", "design", "cli", "api")


def _page(built_docs, name: str) -> str:
    proc, out = built_docs
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout}\n{proc.stderr}"
    return (out / f"{name}.html").read_text(encoding="utf-8")


def test_the_guide_has_every_page_and_its_figures(built_docs):
    index = _page(built_docs, "index")
    for name in GUIDE_PAGES:
        assert (ROOT / "docs" / f"{name}.rst").is_file(), f"docs/{name}.rst is missing"
        assert f'href="{name}.html"' in index, f"the front page's toctree misses {name}"
        assert "<h1>" in _page(built_docs, name)
    images = {p.name for p in (built_docs[1] / "_images").iterdir()}
    # the schematic drawn by docs/figures/hierarchy_schematic.py, and a real hierarchy
    assert "hierarchy_schematic.png" in images
    assert "hierarchy_natural.png" in images
    how = _page(built_docs, "how_it_works")
    assert "hierarchy_schematic.png" in how


def _parsers(parser: argparse.ArgumentParser):
    """Every command and form of the CLI, depth first, in the order the page lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from _parsers(sub)


def _label(prog: str) -> str:
    return "cli-" + "-".join(prog.split()[1:])


def _options(parser: argparse.ArgumentParser) -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        out += action.option_strings or [action.metavar or action.dest]
    return out


def test_cli_reference_lists_every_command_and_option(built_docs):
    import html

    page = html.unescape(_page(built_docs, "cli"))
    parsers = list(_parsers(build_parser()))
    progs = [p.prog.split()[1] for p in parsers]
    assert set(COMMAND_MODULES) <= set(progs)
    starts = []
    for parser in parsers:
        at = page.find(f'id="{_label(parser.prog)}"')
        assert at >= 0, f"the CLI reference has no section for `{parser.prog}`"
        starts.append(at)
    assert starts == sorted(starts), "the sections are not in the parsers' order"
    # each parser's own options lie between its section's start and the next section's
    for i, parser in enumerate(parsers):
        end = starts[i + 1] if i + 1 < len(starts) else len(page)
        section = re.sub(r"<[^>]+>", "", page[starts[i]:end])
        assert parser.prog in section
        for option in _options(parser):
            assert option in section, f"`{parser.prog}`: {option} is not on the CLI page"
        # and its help, as written (the page shows `code` as code and quotes typographically)
        def plain(text: str) -> str:
            return " ".join(re.sub(r"[`'\"‘’“”]", "", text).split())

        for action in parser._actions:
            if action.help and "%(" not in action.help and action.option_strings \
                    and not isinstance(action, argparse._HelpAction):
                assert plain(action.help)[:40] in plain(section), (
                    f"`{parser.prog}`: the help {action.help!r} is not on the CLI page")
    # every section belongs to a parser that exists (nothing stale, nothing hand-written)
    labels = set(re.findall(r'<section id="(cli-[a-z0-9-]+)"', page))
    assert labels == {_label(p.prog) for p in parsers}


def _cli_extension():
    path = ROOT / "docs" / "_ext" / "hilander_cli.py"
    spec = importlib.util.spec_from_file_location("hilander_cli_ext", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_generated_from_the_parsers():
    pytest.importorskip("docutils", reason="docutils comes with sphinx (the test extra)")
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    ext = _cli_extension()
    parser = build_parser()
    discover = next(p for p in _parsers(parser) if p.prog == "hilander discover")
    discover.add_argument("--a-brand-new-option", metavar="N", default=7,
                          help="added after the docs were written (default: %(default)s)")
    top = ext.describe(parser)
    cmd = next(c for c in top.subcommands if c.prog == "hilander discover")
    new = [o for o in cmd.options if o.invocation == "--a-brand-new-option N"]
    assert new and new[0].help == "added after the docs were written (default: 7)"
    assert "--a-brand-new-option" in cmd.usage
    document = new_document("cli", get_default_settings(Parser))
    text = ext.to_section(cmd, document).astext()
    assert "--a-brand-new-option N" in text and "(default: 7)" in text
    assert "hilander discover" in text and "cli-discover" in document.nameids
    # the page itself holds the directive and no copy of any command's usage
    source = (ROOT / "docs" / "cli.rst").read_text(encoding="utf-8")
    assert ".. hilander-cli::" in source
    for sub in _parsers(build_parser()):
        for option in _options(sub):
            if option.startswith("--") and option not in ("--out", "--param", "--grid"):
                # the hand-written contract may name a few options; never a command's list
                assert source.count(option) <= 3, f"cli.rst copies {option} by hand"


# -- the README -----------------------------------------------------------------------------------

def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_short_and_its_two_commands_are_cis():
    readme = _readme()
    assert len(readme.splitlines()) <= 200, "the README is over 200 lines: move it to docs/"
    ci = [line for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if line.startswith("python3 -m venv")]
    assert len(ci) == 1, ".ci/run has no single set-up + test command"
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    commands = [line for block in blocks for line in block.splitlines()
                if line.startswith("python3 -m venv")]
    assert len(commands) == 2, f"the README should give two set-up commands, got {commands}"
    demo, tests = commands
    assert tests == ci[0], "the README's test command is not .ci/run's, verbatim"
    setup = ". .venv/bin/activate && pip install"
    assert demo.startswith("python3 -m venv .venv && " + setup) and demo.endswith("hilander demo")


def test_readme_links_and_figure_exist():
    readme = _readme()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if "://" not in t]
    assert any(t.startswith("docs/") for t in local), "the README links into no guide page"
    for target in local:
        assert (ROOT / target).exists(), f"the README links to {target}, which does not exist"
    assert re.search(r"!\[[^]]*\]\(benchmarks/results/[^)]+\.png\)", readme)


def _cited_texts() -> dict[str, str]:
    texts = {"README.md": _readme()}
    for path in sorted((ROOT / "docs").glob("*.rst")):
        texts[f"docs/{path.name}"] = path.read_text(encoding="utf-8")
    return texts


def test_docs_cite_only_tests_and_files_that_exist():
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    for name, text in _cited_texts().items():
        for test in re.findall(r"``(test_\w+)``|`(test_\w+)`", text):
            test = test[0] or test[1]
            assert test in defined, f"{name} cites {test}, which no test file defines"
        for path in re.findall(r"(?<![\w/])((?:benchmarks|tests|docs|src)/[\w./-]*\w)", text):
            if path.startswith("docs/_build"):
                continue  # where the build goes, not a file of the repository
            if not (ROOT / path).exists():
                pytest.fail(f"{name} names {path}, which does not exist")


def test_read_the_docs_builds_as_the_tests_do():
    config = (ROOT / ".readthedocs.yaml").read_text(encoding="utf-8")
    assert re.search(r"^version: 2$", config, re.M)
    assert "configuration: docs/conf.py" in config
    assert "fail_on_warning: true" in config  # -W, as test_sphinx_build_has_no_warning
    assert "requirements: docs/requirements.txt" in config
    assert re.search(r"method: pip\s+path: \.", config)
    wanted = {line.split(">")[0].split("<")[0].strip(): line.strip()
              for line in (ROOT / "docs" / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert set(wanted) == {"sphinx", "numpydoc"}
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    test_extra = re.search(r"^test = \[(.*?)\]$", pyproject, re.M | re.S).group(1)
    for spec in wanted.values():
        assert f'"{spec}"' in test_extra, f"docs/requirements.txt's {spec} is not the test extra's"
