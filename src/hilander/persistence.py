"""One-file model persistence: configuration, weights and package version together.

Files are written with ``torch.save`` and read with ``weights_only=True``, so a model file can
hold only tensors and plain Python values: loading a foreign pickle cannot run code.
"""

from __future__ import annotations

import warnings
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

import torch

from ._validation import InputError
from .io import atomic_path

FORMAT = "hilander-model"
FORMAT_VERSION = 1

def save_payload(path: str | Path, cls_name: str, config: dict, state: dict[str, Any]) -> None:
    from . import __version__

    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hilander_version": __version__,
        "class": cls_name,
        "config": config,
        "state": state,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def payload_of(model) -> dict:
    """What ``model.save`` writes, as a dict: a model stored whole inside another's file."""
    import tempfile

    from .io import immediate_writes

    with tempfile.TemporaryDirectory() as tmp, immediate_writes():
        model.save(Path(tmp) / "model.pt")
        return load_payload(Path(tmp) / "model.pt")


def load_payload(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file not found: {path}")
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols of foreign files: the error below says it all
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"{path} is not a hilander model file (corrupt or foreign): "
                         f"{_load_failure(exc)}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"{path} is not a hilander model file (no hilander header)")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise InputError(
            f"{path} was written by a newer hilander ({payload.get('hilander_version')}); "
            "upgrade hilander to read it"
        )
    return payload


def _load_failure(exc: Exception) -> str:
    """Why torch.load refused a file, short, and never torch's advice to retry with
    ``weights_only=False``: on a file of unknown origin that would run its code."""
    text = str(exc)
    if "weights_only" in text or "Weights only load failed" in text:
        return "it is not an archive of tensors and plain values (nothing in it was run)"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    # torch's zip reader appends a paragraph of advice after the first sentence
    first = first.split(". ")[0].rstrip(".")
    return first if len(first) <= 120 else first[:117] + "..."


class PersistentModel:
    """``save``/``load`` for every trainable hilander model, built on two hooks.

    A model implements ``_check_fitted()``, ``_check_params()``, ``_state()`` (tensors and plain
    values describing what was learnt) and ``_set_state(state)`` (the inverse, called on an
    estimator constructed from the saved configuration, i.e. ``get_params()``). The class name,
    configuration, state and package version travel together in one file.
    """

    def _state(self) -> dict[str, Any]:  # pragma: no cover - every model overrides
        raise NotImplementedError

    def _set_state(self, state: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def save(self, path: str | Path) -> None:
        """Write configuration, learnt weights and package version to one file."""
        self._check_fitted()
        state = dict(self._state())
        state["n_features_in_"] = int(self.n_features_in_)
        # a settings object (HiLander's training=, ...) is stored as its class name and fields:
        # a model file holds plain values only
        config = {k: {"settings": type(v).__name__, "fields": v.as_dict()}
                  if is_dataclass(v) and not isinstance(v, type) else v
                  for k, v in self.get_params(deep=False).items()}
        if "verbose" in config:
            # progress bars belong to the session that trains, not to the model it saves
            config["verbose"] = False
        save_payload(path, type(self).__name__, config, state)

    @classmethod
    def load(cls, path: str | Path):
        """Read a model written by :meth:`save`; refuses files of another model class."""
        return load_as(cls, path)

    @classmethod
    def _upgrade_config(cls, config: dict) -> dict:
        """The saved configuration in today's parameter names (files of older versions)."""
        return config

    @classmethod
    def _from_payload(cls, payload: dict, path: str | Path = "the model file"):
        try:
            model = cls(**cls._upgrade_config(dict(payload["config"])))
            model._check_params()
            state = payload["state"]
            model.n_features_in_ = int(state["n_features_in_"])
            model._set_state(state)
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path} is a damaged {cls.__name__} model file: {first}") from None
        return model


def load_as(cls, path: str | Path):
    """The model of class ``cls`` in ``path`` (its ``_from_payload``); another class's file
    is refused with a one-line InputError."""
    payload = load_payload(path)
    if payload.get("class") != cls.__name__:
        raise InputError(f"{path} holds a {payload.get('class')} model, not a {cls.__name__}")
    return cls._from_payload(payload, path)


def load_model(path: str | Path):
    """Load any hilander model file, whatever its class (found in the method registry,
    :func:`hilander.methods.registry.model_class`)."""
    payload = load_payload(path)
    return model_from_payload(payload, path)


def model_from_payload(payload: dict, path: str | Path = "the model file"):
    """The model a loaded payload describes, of the registered class it names."""
    from .methods.registry import model_class

    try:
        cls = model_class(payload.get("class"))
    except InputError:
        raise InputError(f"{path} holds an unknown model class {payload.get('class')!r}"
                         ) from None
    return cls._from_payload(payload, path)
