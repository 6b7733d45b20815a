"""Sphinx configuration of hilander's documentation.

Build: ``sphinx-build -W -b html docs docs/_build`` (warnings are errors, as in the tests).
Nothing is fetched at build time: no intersphinx, the bundled alabaster theme, figures
committed as PNG files (``docs/figures/``, and the benchmark reports' own under
``benchmarks/results/``).
"""

import os
import sys

# the source tree, so the docs build from a clone without installing the package
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src")))
# docs/_ext: the ``hilander-cli`` directive that renders the CLI reference from the parsers
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "_ext")))

import hilander  # noqa: E402

project = "hilander"
author = "hilander developers"
copyright = "hilander developers"
version = release = hilander.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "hilander_cli",
]

exclude_patterns = ["_build", "_ext", "figures/*.py"]
html_theme = "alabaster"
# wide enough for an 80-column usage block and the design page's tables
html_theme_options = {"page_width": "1120px", "sidebar_width": "230px",
                      "description": "Learn how to cluster embeddings"}
html_static_path = ["_static"]  # custom.css: wide tables wrap inside the page

# autodoc: members are listed explicitly in api.rst; signatures without type hints (the
# docstrings' Parameters sections carry the types)
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autosummary_generate = False

# numpydoc renders Parameters / Attributes / Examples; member tables are left to autodoc
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
