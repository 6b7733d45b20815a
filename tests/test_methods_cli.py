"""``hilander methods``."""

from __future__ import annotations

import json

from hilander import methods
from hilander.cli import main


def test_methods_lists_every_method(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in methods.names():
        assert f"{name}:" in out
    assert "linkage='ward'" in out


def test_methods_json_and_single(capsys):
    assert main(["methods", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dbscan"]["params"]["eps"] == 0.5
    assert main(["methods", "hac"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("hac:") and "grid linkage" in out
    assert main(["methods", "nope"]) == 2
    assert "choose one of" in capsys.readouterr().err
