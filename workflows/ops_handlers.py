"""Ops actions as workflow handlers: each is an update (validated before anything is written) and a signal
of the same name (for systems that can only fire events; a bad one is recorded as rejected).

A workflow class provides `_validate(action_type, args)`, `_on_update(action_type, args)` and
`_on_signal(action_type, args)`. Handlers take their arguments undecoded (`*args`): whoever sends them
(the CLI, `temporal workflow signal` with or without `--input`, another SDK), a missing, extra or
malformed argument is refused with its reason rather than failing the workflow task.
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from relance.domain.actions import Action
    from relance.domain.errors import Rejected, validated
    from relance.domain.limits import bounded, check_text, excerpt

M = TypeVar("M", bound=BaseModel)


def single_payload(args: Sequence[Any]) -> Any:
    """The one JSON payload of a call: none (or null) is an empty object, more than one is refused."""
    if len(args) > 1:
        raise Rejected(f"expects one JSON object, got {len(args)} arguments")
    return args[0] if args and args[0] is not None else {}


def parse_payload(model: type[M], args: Sequence[Any]) -> M:
    """Validate a handler's raw arguments as `model`, or raise Rejected naming each bad field."""
    return validated(model, single_payload(args))


def read_signal(model: type[M], name: str, args: Sequence[Any], refuse: Callable[[str, str, str], None]) -> M | None:
    """A signal's payload, or None once `refuse(name, reason, excerpt)` has recorded why it was refused."""
    try:
        return parse_payload(model, args)
    except Rejected as err:
        refuse(name, str(err), excerpt(list(args)))
        return None


def parse_action(action_type: type[Action], args: Sequence[Any]) -> Action:
    return parse_payload(action_type, args)


def raw_excerpt(args: Sequence[RawValue]) -> str:
    """What an unknown signal carried, bounded, without decoding it as anything in particular."""
    parts = [bytes(raw.payload.data[:200]).decode("utf-8", errors="replace") for raw in args[:3]]
    return excerpt(parts)


def shown_name(name: str) -> str:
    """A handler name as sent by someone else: printable and short, for the history and the ledger."""
    try:
        return bounded(check_text(name), 100)
    except ValueError:
        return excerpt(name)


C = TypeVar("C", bound=type)


def ops_actions(actions: tuple[type[Action], ...]) -> Callable[[C], C]:
    """Class decorator, under `@workflow.defn`: an update (with its validator) and a signal per action."""

    def register(cls: C) -> C:
        for action_type in actions:
            _register(cls, action_type)
        return cls

    return register


def _register(cls: type, action_type: type[Action]) -> None:
    name = action_type.name

    async def update(self: Any, *args: Any) -> Any:
        return await self._on_update(action_type, args)

    def validate(self: Any, *args: Any) -> None:
        self._validate(action_type, args)

    async def signal(self: Any, *args: Any) -> None:
        await self._on_signal(action_type, args)

    for handler, prefix in ((update, "update"), (validate, "validate"), (signal, "signal")):
        handler.__name__ = f"{prefix}_{name}"
        handler.__qualname__ = f"{cls.__name__}.{prefix}_{name}"
    registered = workflow.update(name=name)(update)
    registered.validator(validate)
    setattr(cls, f"update_{name}", registered)
    setattr(cls, f"signal_{name}", workflow.signal(name=name)(signal))
