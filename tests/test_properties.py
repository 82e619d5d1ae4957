"""Property-based tests (hypothesis): every public pydantic model takes any input with a ValidationError or a model
that survives a JSON round trip, and the CLI's argument parser answers any argv with a namespace or a clean exit 2."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import types
import typing
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from briefcraft import pricing, schemas
from briefcraft.channels import channel_ids
from briefcraft.errors import BriefcraftError
from briefcraft.settings import Settings
from briefcraft.ui import cli

EXAMPLES = 40
#: Every public pydantic model: the nouns, the pricing table's rows and sections, the settings.
MODELS: list[type[BaseModel]] = [
    *(getattr(schemas, name) for name in schemas.__all__
      if isinstance(getattr(schemas, name), type) and issubclass(getattr(schemas, name), BaseModel)),
    pricing.TokenPrice, pricing.ImagePrice, pricing.PricingTable, pricing.CostSummary, Settings,
]

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
#: Anything JSON can hold, NaN and infinity included (they are where floats go wrong).
JUNK = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                           max_size=3), max_leaves=8)
#: What an untyped (Any) field may carry and JSON gives back unchanged.
_JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False,
                                                                                   allow_infinity=False),
                               st.text(max_size=20)),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=3), max_leaves=8)


def _pattern(info: FieldInfo | None) -> str | None:
    for meta in info.metadata if info else ():
        if getattr(meta, "pattern", None):
            return str(meta.pattern)
    return None


def _typed(annotation: Any, info: FieldInfo | None = None, name: str = "") -> st.SearchStrategy[Any]:
    """Values of the field's type (finite numbers, strings that match its pattern), for inputs that may validate."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _payload(annotation)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_typed(arg, info, name) for arg in args))
    if origin is list:
        return st.lists(_typed(args[0], None, name), max_size=3)
    if origin is tuple:
        return st.tuples(*(_typed(arg) for arg in args)) if args[-1] is not Ellipsis else st.tuples()
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), _typed(args[1], None, name), max_size=3)
    if annotation is Any:
        return _JSON
    if annotation is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if annotation is str:
        if pattern := _pattern(info):
            return st.from_regex(pattern, fullmatch=True)
        if name.startswith("channel"):
            return st.sampled_from(channel_ids())
        return st.text(max_size=30)
    if annotation is SecretStr:
        return st.none()  # a secret dumps as '**********': it cannot round-trip, by design
    if annotation in (datetime, date):
        return st.from_type(annotation)
    if annotation is Path:
        return st.builds(Path, st.from_regex(r"[a-z0-9_./-]{1,20}", fullmatch=True))
    return st.from_type(annotation)


def _payload(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict of some of the model's fields, with values of their types."""
    fields = {
        name: _typed(info.annotation, info, name)
        for name, info in model.model_fields.items()
        if not (model is Settings and name in ("ui_users", "ui_host"))  # logins hold secrets; the host needs them
    }
    required = {name: strategy for name, strategy in fields.items() if model.model_fields[name].is_required()}
    optional = {name: strategy for name, strategy in fields.items() if name not in required}
    return st.fixed_dictionaries(required, optional=optional)  # type: ignore[arg-type]


def _mangled(model: type[BaseModel]) -> st.SearchStrategy[object]:
    """Input that is often wrong: typed payloads with junk values or unknown keys, or junk altogether."""
    keys = st.sampled_from([*model.model_fields, "unknown"])
    return st.one_of(
        JUNK,
        st.builds(lambda base, extra: {**base, **extra}, _payload(model), st.dictionaries(keys, JUNK, max_size=3)),
    )


def _validate(model: type[BaseModel], data: object) -> BaseModel | None:
    if model is Settings:
        data = {"_env_file": None, **data} if isinstance(data, dict) else data
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


#: Derandomized: the same examples on every run, so a failure in CI is one anyone can replay.
_LIMITS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_any_input_validates_or_raises_validation_error(model: type[BaseModel]) -> None:
    @_LIMITS
    @given(data=_mangled(model))
    def check(data: object) -> None:
        _validate(model, data)  # anything but a ValidationError fails the test

    check()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_any_json_text_validates_or_raises_validation_error(model: type[BaseModel]) -> None:
    @_LIMITS
    @given(text=st.one_of(st.text(max_size=40), JUNK.map(json.dumps)))
    def check(text: str) -> None:
        with contextlib.suppress(ValidationError):
            model.model_validate_json(text)

    check()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_valid_models_round_trip_through_json(model: type[BaseModel]) -> None:
    valid = {"count": 0}

    @_LIMITS
    @given(data=_payload(model))
    def check(data: dict[str, Any]) -> None:
        parsed = _validate(model, data)
        if parsed is None:
            return
        valid["count"] += 1
        assert model.model_validate_json(parsed.model_dump_json()) == parsed

    check()
    assert valid["count"] > 0, f"no generated {model.__name__} was valid"


def _float_fields(model: type[BaseModel]) -> list[str]:
    return [name for name, info in model.model_fields.items() if info.annotation in (float, float | None)]


NON_FINITE = [model for model in MODELS if _float_fields(model)]


@pytest.mark.parametrize("model", NON_FINITE, ids=lambda m: m.__name__)
def test_non_finite_numbers_are_refused(model: type[BaseModel]) -> None:
    """NaN and infinity never validate, in any float field: JSON cannot carry them (a checkpoint or a pack would
    give back null)."""

    valid = {"count": 0}

    @_LIMITS
    @given(base=_payload(model))
    def check(base: dict[str, Any]) -> None:
        if _validate(model, base) is None:
            return  # only a valid model shows that the number alone is refused
        valid["count"] += 1
        taken = [f"{name}={value}" for name in _float_fields(model) for value in (math.nan, math.inf, -math.inf)
                 if _validate(model, {**base, name: value}) is not None]
        assert not taken, f"{model.__name__} took {', '.join(taken)}"

    check()
    assert valid["count"] > 0, f"no generated {model.__name__} was valid"


# --- the CLI's argument parser ------------------------------------------------------------------------------------

_PARSER = cli._parser()
_COMMANDS = sorted(next(a for a in _PARSER._actions if isinstance(a, argparse._SubParsersAction)).choices)
_FLAGS = sorted({flag for sub in next(a for a in _PARSER._actions
                                     if isinstance(a, argparse._SubParsersAction)).choices.values()
                 for action in sub._actions for flag in action.option_strings} - {"-h", "--help"})
_TOKEN = st.one_of(
    st.sampled_from(_COMMANDS), st.sampled_from(_FLAGS), st.sampled_from(["all", "none", "ask", "nan", "inf", "-1",
                                                                          "1e999", "0", "3", "../x", "@", "--"]),
    st.text(max_size=12),
).filter(lambda token: not token.startswith(("-h", "--h")))  # help is the one clean exit with code 0


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(argv=st.one_of(st.lists(_TOKEN, max_size=8),
                      st.tuples(st.sampled_from(_COMMANDS), st.lists(_TOKEN, max_size=7)).map(
                          lambda pair: [pair[0], *pair[1]])))
def test_cli_parser_takes_any_argv_or_exits_2(argv: list[str]) -> None:
    """argparse either parses or exits 2 with its usage; the checks the command runs before any work raise only a
    BriefcraftError (one line, exit code 2)."""
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
        try:
            args = _PARSER.parse_args(argv)
        except SystemExit as stop:
            assert stop.code == 2
            assert err.getvalue().splitlines()[-1].startswith("briefcraft")  # after the usage: one line
            return
    if args.command not in ("run", "resume"):
        return
    try:
        cli._user(args.user)
        cli._limits(args)
        if args.command == "run":
            cli._thread_id(args.thread)
    except BriefcraftError as error:
        assert error.exit_code == 2
        assert "\n" not in str(error)
