"""Validation errors phrased for the person who sent the input: field path, then what is wrong."""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
MAX_REASON = 1000  # a refusal quotes input: keep it bounded too


def explain(err: ValidationError) -> str:
    reasons = []
    for error in err.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        reasons.append(f"{where}: {message}" if where else message)
    return "; ".join(reasons)


class Rejected(ValueError):
    """An ops action that does not fit the case; the message says why, for the person who sent it. Its class
    name is the refusal's type (Temporal's ApplicationError.type): callers branch on the type, never the text."""


class CaseClosed(Rejected):
    """The case is closed: it takes no more actions (a returned payment reopens it instead)."""


class AlreadyRecorded(Rejected):
    """This payment reference is already on the case: sending it again is a no-op for an idempotent caller."""


class AlreadyReversed(Rejected):
    """This payment already came back."""


class LetterNeverSent(Rejected):
    """A returned letter reported on a case that never sent one."""


class Undecodable:
    """What a workflow handler receives for an argument that is no JSON at all (bytes under a JSON encoding,
    a document nested past the parser's limit, an encoding nobody knows): the data converter hands it over
    instead of failing, so that the handler refuses it with its reason and keeps a trace (`validated`)."""

    def __init__(self, reason: str, head: bytes) -> None:
        self.reason, self.head = reason, head

    def __str__(self) -> str:
        return f"undecodable input: {self.reason}"


def validated(model: type[M], value: Any, what: str = "payload") -> M:
    """`value` as `model`, or Rejected naming each bad field: the one way every door checks a JSON object."""
    if isinstance(value, Undecodable):
        raise Rejected(str(value))
    if not isinstance(value, dict):
        raise Rejected(f"the {what} must be a JSON object, got {json_type(value)}")
    try:
        return model.model_validate(value)
    except ValidationError as err:
        reason = explain(err)
        raise Rejected(reason if len(reason) <= MAX_REASON else f"{reason[:MAX_REASON]}…") from None
    except RecursionError:
        raise Rejected(f"the {what} is nested too deeply") from None


def json_type(value: Any) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "a boolean", list: "a list"}
    return names.get(type(value), "null" if value is None else type(value).__name__)
