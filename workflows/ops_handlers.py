"""Ops actions as workflow handlers: each is an update (validated before anything is written) and a signal
of the same name (for systems that can only fire events; a bad one is recorded as rejected).

A workflow class provides `_validate(action_type, payload)`, `_on_update(action_type, payload)` and
`_on_signal(action_type, payload)`; payloads arrive as plain JSON so that a malformed one is refused
with its field errors rather than failing in the data converter.
"""

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from relance.actions import Action
    from relance.errors import Rejected, explain


def parse_action(action_type: type[Action], payload: Any) -> Action:
    try:
        return action_type.model_validate(payload)
    except ValidationError as err:
        raise Rejected(explain(err)) from None


def register_ops_actions(cls: type, actions: tuple[type[Action], ...]) -> None:
    """Add an update (with its validator) and a signal per action to `cls`, before `workflow.defn`."""
    for action_type in actions:
        _register(cls, action_type)


def _register(cls: type, action_type: type[Action]) -> None:
    name = action_type.name

    async def update(self: Any, payload: dict[str, Any]) -> Any:
        return await self._on_update(action_type, payload)

    def validate(self: Any, payload: dict[str, Any]) -> None:
        self._validate(action_type, payload)

    async def signal(self: Any, payload: dict[str, Any]) -> None:
        await self._on_signal(action_type, payload)

    for handler, prefix in ((update, "update"), (validate, "validate"), (signal, "signal")):
        handler.__name__ = f"{prefix}_{name}"
        handler.__qualname__ = f"{cls.__name__}.{prefix}_{name}"
    registered = workflow.update(name=name)(update)
    registered.validator(validate)
    setattr(cls, f"update_{name}", registered)
    setattr(cls, f"signal_{name}", workflow.signal(name=name)(signal))
