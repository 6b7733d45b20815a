"""Helpers shared by command modules."""

from __future__ import annotations

import argparse
import json

from .._validation import InputError


def parse_params(items: list[str] | None) -> dict:
    """Turn ``["k=10", "linkage=ward", "l2_normalize=false"]`` into typed keyword arguments."""
    params: dict = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--param expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key.isidentifier():
            raise InputError(f"--param key {key!r} is not a valid parameter name")
        params[key] = _parse_value(raw.strip())
    return params


def _parse_value(raw: str):
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
