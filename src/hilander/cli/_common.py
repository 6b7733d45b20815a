"""Helpers shared by command modules."""

from __future__ import annotations

import argparse
import json

from .._validation import InputError


def split_assignment(item: str, option: str = "--param",
                     form: str = "key=value") -> tuple[str, str]:
    """``"k=10"`` -> ``("k", "10")``, with a clear error for anything else."""
    if "=" not in item:
        raise InputError(f"{option} expects {form}, got {item!r}")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key.isidentifier():
        raise InputError(f"{option} key {key!r} is not a valid parameter name")
    return key, raw.strip()


def parse_params(items: list[str] | None) -> dict:
    """Turn ``["k=10", "linkage=ward", "l2_normalize=false"]`` into typed keyword arguments."""
    params: dict = {}
    for item in items or []:
        key, raw = split_assignment(item)
        params[key] = parse_value(raw)
    return params


def parse_value(raw: str):
    """``"10"`` -> 10, ``"0.5"`` -> 0.5, ``"true"`` -> True, ``"none"`` -> None, else the text."""
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def set_progress(model, on: bool) -> None:
    """Turn a loaded model's progress bars on or off, whichever name its estimator uses."""
    params = model.get_params(deep=False) if hasattr(model, "get_params") else {}
    for name in ("verbose", "progress"):
        if name in params:
            if hasattr(model, "set_params"):
                model.set_params(**{name: on})
            else:  # AutoCluster: get_params only
                setattr(model, name, on)
            return
