"""Ops actions as workflow handlers: each is an update (validated before anything is written) and a signal
of the same name (for systems that can only fire events; a bad one is recorded as rejected).

A workflow class provides `_validate(action_type, args)`, `_on_update(action_type, args)` and
`_on_signal(action_type, args)`. Handlers take their arguments undecoded (`*args`): whoever sends them
(the CLI, `temporal workflow signal` with or without `--input`, another SDK), a missing, extra or
malformed argument is refused with its reason rather than failing the workflow task.
"""

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from relance.domain.actions import Action
    from relance.domain.errors import Rejected, Undecodable, validated
    from relance.domain.limits import excerpt, printable

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
    return printable(name, 100)


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


class TakesOpsActions:
    """What both workflows share to take ops actions (as updates and signals, registered by `ops_actions`)
    and to refuse what they cannot take: the refused start, a malformed payload, a check that fails, an
    unknown name. A workflow says what it is (`noun`, `known_signals`, `known_updates`) and fills in the hooks."""

    noun: ClassVar[str]
    known_signals: ClassVar[tuple[str, ...]]
    known_updates: ClassVar[tuple[str, ...]]
    _refusal: str | None

    async def _ready(self) -> None:
        """What an action waits for before it is checked (a case: its policy)."""

    def _gate(self) -> None:
        """Refuse every action before its payload is read (a closed case)."""

    def _check(self, action: Action) -> None:
        raise NotImplementedError

    async def _take(self, action: Action, *, answer: bool) -> Any:
        """Apply the action; with `answer`, return what the update answers."""
        raise NotImplementedError

    def _refuse(self, name: str, reason: str, payload: str) -> None:
        """Record a refused signal (a signal cannot answer)."""
        raise NotImplementedError

    def _check_started(self) -> None:
        if self._refusal is not None:
            raise Rejected(f"the {self.noun} was refused at start: {self._refusal}")

    def _validate(self, action_type: type[Action], args: Sequence[Any]) -> None:
        """Update validator: reject before anything is written to history, naming what is wrong."""
        self._check_started()
        self._gate()
        self._check(parse_action(action_type, args))

    async def _on_update(self, action_type: type[Action], args: Sequence[Any]) -> Any:
        try:
            action = parse_action(action_type, args)
            await self._ready()
            self._check(action)
        except Rejected as err:  # the refusal's class is its type: callers branch on it, never on the text
            raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from None
        return await self._take(action, answer=True)

    def _drops_undecodable(self) -> bool:
        """Whether a signal whose payload is no JSON is dropped without a trace (what workflows did before
        they recorded it; an InvoiceCollection decides by its generation)."""
        return False

    async def _on_signal(self, action_type: type[Action], args: Sequence[Any]) -> None:
        if self._refusal is not None:
            return  # being refused, it takes nothing
        if any(isinstance(arg, Undecodable) for arg in args) and self._drops_undecodable():
            return
        await self._ready()
        try:
            action = parse_action(action_type, args)
            self._check(action)
        except Rejected as err:
            self._refuse(action_type.name, str(err), excerpt(list(args)))
            return
        await self._take(action, answer=False)

    @workflow.signal(dynamic=True)
    def unknown_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """A signal no handler knows: recorded as refused, never silently dropped."""
        if self._refusal is None:
            known = ", ".join(self.known_signals)
            self._refuse(shown_name(name), f"unknown signal; known actions: {known}", raw_excerpt(args))

    @workflow.update(dynamic=True)
    async def unknown_update(self, name: str, args: Sequence[RawValue]) -> None:
        raise ApplicationError(f"unknown update {shown_name(name)!r}", type="Rejected", non_retryable=True)

    @unknown_update.validator
    def _validate_unknown_update(self, name: str, args: Sequence[RawValue]) -> None:
        raise Rejected(f"unknown action {shown_name(name)!r}; known: {', '.join(sorted(self.known_updates))}")
