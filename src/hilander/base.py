"""The estimator family: parameters declared once, scikit-learn's vocabulary, fitted checks.

Every hilander estimator is a scikit-learn estimator. Those that learn from labeled identities
(:class:`hilander.HiLander`, the supervised GNNs, :class:`hilander.AutoCluster`) derive from
:class:`MetaTrainedClusterer` and declare their parameters once, in a ``_params`` table of
:class:`Param` (default, constraint, type, doc). The table gives the constructor, scikit-learn's
``_parameter_constraints`` (checked at ``fit``) and the "Parameters" section of the class
docstring, so the three cannot drift apart. The training settings the networks share
(:data:`TRAINING_PARAMS`) are declared here, once, each class choosing its own defaults.

Old parameter names stay accepted with a ``FutureWarning`` (:data:`ALIASES`): ``seed`` is now
``random_state``, ``progress`` is ``verbose`` and ``k`` is ``n_neighbors``, as in scikit-learn.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import asdict, dataclass, replace
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    validate_parameter_constraints,
)

from ._validation import InputError, validate_constraints
from .persistence import PersistentModel

#: old parameter name -> scikit-learn's word for it (old names warn, then work)
ALIASES = {"seed": "random_state", "progress": "verbose", "k": "n_neighbors"}


class NotFittedError(InputError, _SklearnNotFittedError):
    """An estimator used before ``fit``: scikit-learn's ``NotFittedError``, and an
    :class:`InputError`, so the command line prints it as one line."""


def translate_aliases(cls: type, params: dict, *, warn: bool = True,
                      current: Any = None) -> dict:
    """``params`` with deprecated names (:data:`ALIASES`) replaced by the current ones.

    A name is translated only where ``cls`` has the new parameter and not the old one; a class
    lists its own renamings in ``_renamed``. Giving both the old and the new name is an error,
    not a silent choice. A class whose old keywords moved into settings groups translates
    them in its ``_translate_legacy(params, warn=, current=)`` (``current``: the estimator
    ``set_params`` changes).
    """
    names = set(cls._get_param_names())
    out = dict(params)
    for old, new in {**ALIASES, **getattr(cls, "_renamed", {})}.items():
        if old in out and old not in names and new in names:
            if new in out:
                raise InputError(f"{cls.__name__}: give {new!r} only ({old!r} is its "
                                 "deprecated name)")
            if warn:
                warnings.warn(f"{cls.__name__}({old}=...) is deprecated; use {new}=...",
                              FutureWarning, stacklevel=3)
            out[new] = out.pop(old)
    legacy = getattr(cls, "_translate_legacy", None)
    return out if legacy is None else legacy(out, warn=warn, current=current)


class AliasedParams:
    """Mixin: constructors and ``set_params`` accept the deprecated names of :data:`ALIASES`."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_translates_aliases", False):
            return

        def __init__(self, *args, **params):
            init(self, *args, **translate_aliases(type(self), params))

        __init__.__signature__ = inspect.signature(init)  # what scikit-learn introspects
        __init__.__doc__ = init.__doc__
        __init__._translates_aliases = True
        cls.__init__ = __init__

    def set_params(self, **params):
        params = translate_aliases(type(self), params, current=self)
        valid = self._get_param_names()
        for key in params:
            if key.partition("__")[0] not in valid:
                raise InputError(f"{type(self).__name__} has no parameter {key!r}; valid: "
                                 f"{sorted(valid)}")
        return super().set_params(**params)


class _UnitGrid(Options):
    """A non-empty sequence of numbers in [0, 1] (a grid of thresholds); an ``Options``
    because scikit-learn's tables take only its own constraint classes."""

    def __init__(self) -> None:
        super().__init__(object, set())

    def is_satisfied_by(self, val) -> bool:
        if isinstance(val, (str, bytes)):
            return False
        try:
            arr = np.asarray(val, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        return bool(arr.ndim == 1 and arr.size and np.all((arr >= 0) & (arr <= 1)))

    def __str__(self) -> str:
        return "a non-empty sequence of numbers in [0, 1]"


#: constraint of a grid of thresholds (scikit-learn style, for the constraint tables)
UNIT_GRID = _UnitGrid()


def validate_settings(values: dict, constraints: dict, caller: str) -> None:
    """Check ``values`` against a constraint table with scikit-learn's rules; the first
    violation is an :class:`InputError` naming ``caller``."""
    try:
        validate_parameter_constraints(constraints, values, caller_name=caller)
    except InvalidParameterError as exc:
        raise InputError(str(exc).splitlines()[0]) from None


class Settings:
    """Base of the frozen dataclasses that group an estimator's options (HiLander's
    ``training=`` and ``selection=``): each declares its fields' constraints once, in
    ``_constraints``, checked by :meth:`validate` at ``fit``."""

    _constraints: ClassVar[dict] = {}

    def replace(self, **changes):
        """A copy with some fields changed."""
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)

    def validate(self, caller: str) -> None:
        """Each field against ``_constraints`` (an :class:`InputError` names the first bad
        one as ``caller``'s)."""
        validate_settings(self.as_dict(), self._constraints, caller)


@dataclass(frozen=True)
class Param:
    """One declared parameter: its default, scikit-learn constraints, type and meaning."""

    default: Any
    constraints: list
    type: str
    doc: str

    def with_default(self, default: Any) -> Param:
        return replace(self, default=default)


def with_defaults(params: dict[str, Param], **defaults: Any) -> dict[str, Param]:
    """A copy of a parameter table with some defaults changed (a class's own choices)."""
    unknown = set(defaults) - set(params)
    if unknown:
        raise TypeError(f"no such parameter(s) {sorted(unknown)}")
    return {name: p.with_default(defaults[name]) if name in defaults else p
            for name, p in params.items()}


# shorthands for every estimator's constraint tables
POSITIVE_INT = Interval(Integral, 1, None, closed="left")
NONNEG_INT = Interval(Integral, 0, None, closed="left")
POSITIVE_REAL = Interval(Real, 0, None, closed="neither")
NONNEG_REAL = Interval(Real, 0, None, closed="left")
COSINE = Interval(Real, -1, 1, closed="both")
UNIT = Interval(Real, 0, 1, closed="both")

#: The training settings every network of the family shares (declared once; each class picks
#: its defaults with :func:`with_defaults`).
TRAINING_PARAMS: dict[str, Param] = {
    "hidden": Param(128, [Interval(Integral, 2, None, closed="left")], "int",
                    "Width of the network's hidden layers."),
    "epochs": Param(30, [POSITIVE_INT], "int", "Training epochs (an upper bound when "
                    "``patience`` stops the run earlier)."),
    "lr": Param(0.01, [Interval(Real, 0, None, closed="neither")], "float",
                "Learning rate."),
    "weight_decay": Param(1e-5, [Interval(Real, 0, None, closed="left")], "float",
                          "L2 weight decay."),
    "patience": Param(None, [POSITIVE_INT, None], "int or None",
                      "Evaluations on held-out identities without improvement before "
                      "training stops (None: never stop early)."),
    "dropout": Param(0.0, [Interval(Real, 0, 1, closed="left")], "float",
                     "Dropout rate inside the network."),
}

#: Settings of every meta-trained estimator.
COMMON_PARAMS: dict[str, Param] = {
    "random_state": Param(0, [Interval(Integral, 0, None, closed="left")], "int",
                          "Seed of every random choice (identity hold-outs, initial weights, "
                          "mini-batches): the same seed gives the same labels."),
    "verbose": Param(False, ["boolean"], "bool", "Show progress bars. Not saved with the "
                     "model: a loaded model is quiet until told otherwise."),
    "device": Param("auto", [str], "str", 'Where networks train and run: "auto" (CUDA when '
                    'present, else the CPU), "cpu" or "cuda"; an explicit "cuda" without a '
                    "GPU is an error, never a silent CPU run."),
}


def _render(params: dict[str, Param]) -> str:
    import textwrap

    lines = ["Parameters", "----------"]
    for name, p in params.items():
        default = f'"{p.default}"' if isinstance(p.default, str) else repr(p.default)
        if isinstance(p.default, Settings) and p.default == type(p.default)():
            default = f"{type(p.default).__name__}()"  # a settings group at its defaults
        lines.append(f"{name} : {p.type}, default={default}")
        lines += textwrap.wrap(p.doc, 92, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines)


class DeclaredParams(AliasedParams):
    """Mixin: the constructor, constraints and docs of a class come from its ``_params``.

    A subclass lists its own parameters in ``_params`` (they come first in the signature) and
    inherits its bases'; ``_defaults`` changes inherited defaults. The generated ``__init__``
    only stores the values (scikit-learn's rule: checks run in ``fit``). A class docstring
    holding ``{parameters}`` gets the rendered "Parameters" section there.
    """

    _params: ClassVar[dict[str, Param]] = {}
    _defaults: ClassVar[dict[str, Any]] = {}
    _all_params: ClassVar[dict[str, Param]] = {}
    #: how many leading parameters may also be given by position
    _n_positional: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs) -> None:
        own = cls.__dict__.get("_params", {})
        inherited = {n: p for n, p in getattr(cls, "_all_params", {}).items() if n not in own}
        table = with_defaults({**own, **inherited}, **cls.__dict__.get("_defaults", {}))
        cls._all_params = table
        cls._parameter_constraints = {n: p.constraints for n, p in table.items()}
        if "__init__" not in cls.__dict__:
            cls.__init__ = _make_init(table, cls._n_positional)
        if cls.__doc__ and "{parameters}" in cls.__doc__:
            cls.__doc__ = cls.__doc__.replace("{parameters}", _indent(_render(table)))
        super().__init_subclass__(**kwargs)


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


def _make_init(table: dict[str, Param], n_positional: int):
    names = tuple(table)

    def __init__(self, *args, **params) -> None:
        if len(args) > n_positional:
            raise TypeError(f"{type(self).__name__}() takes at most {n_positional} positional "
                            f"argument(s); pass the others by name")
        for name, value in zip(names, args):
            if name in params:
                raise TypeError(f"{type(self).__name__}() got multiple values for {name!r}")
            params[name] = value
        params = translate_aliases(type(self), params)
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword "
                            f"argument {unknown[0]!r}")
        for name in names:
            setattr(self, name, params.get(name, table[name].default))

    kinds = [inspect.Parameter.POSITIONAL_OR_KEYWORD] * n_positional
    kinds += [inspect.Parameter.KEYWORD_ONLY] * (len(names) - n_positional)
    __init__.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(n, kind, default=p.default)
           for (n, p), kind in zip(table.items(), kinds)])
    __init__._translates_aliases = True
    return __init__


class Encoder(DeclaredParams, BaseEstimator):
    """Base of the trainable embedders (:class:`~hilander.embed.backbone.ImageBackbone`,
    :class:`~hilander.embed.text_encoder.TextEncoder`): parameters declared once in ``_params``,
    scikit-learn's ``get_params`` / ``set_params`` / ``clone`` and vocabulary (``random_state``,
    ``verbose``; the old names warn), checked at ``fit`` by :meth:`_check_params`.

    A subclass lists its own renamings in ``_renamed`` (old name -> new name); a model file
    written under the old names loads without a warning (:meth:`_upgrade_config`).
    """

    def _check_params(self) -> None:
        validate_constraints(self)
        from ._device import resolve_device

        resolve_device(self.device)  # an explicit "cuda" without a GPU fails before training
        self._check_rules()

    def _check_rules(self) -> None:
        """Rules that tie parameters together; subclasses override when they have some."""

    @classmethod
    def _upgrade_config(cls, config: dict) -> dict:
        return translate_aliases(cls, config, warn=False)


class MetaTrainedClusterer(DeclaredParams, PersistentModel, ClusterMixin, BaseEstimator):
    """Base of the estimators that learn from labeled identities (``fit(X, y)``).

    Subclasses implement ``_check_rules()`` (rules tying parameters together, run at ``fit``
    after the constraint tables), ``_state()`` / ``_set_state()`` for persistence and their
    own ``fit``. ``_check_fitted`` raises :class:`NotFittedError`.
    """

    _params = COMMON_PARAMS

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # meta-training learns from identities: fit(X) without y cannot apply
        tags.target_tags.required = True
        return tags

    @classmethod
    def _upgrade_config(cls, config: dict) -> dict:
        # files saved before the scikit-learn names: translated without a warning
        return translate_aliases(cls, config, warn=False)

    def _check_params(self) -> None:
        validate_constraints(self)
        if "device" in self._all_params:
            from ._device import resolve_device

            resolve_device(self.device)  # an explicit "cuda" without a GPU fails before data
        self._check_rules()

    def _check_rules(self) -> None:
        """Rules that tie parameters together; subclasses override when they have some."""

    def _fitted_marker(self) -> str:
        return "n_features_in_"

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_marker()):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call "
                                 "fit(X, y) first, or load a saved model")
