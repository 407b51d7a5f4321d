"""Validation errors phrased for the person who sent the input: field path, then what is wrong."""

from pydantic import ValidationError


def explain(err: ValidationError) -> str:
    reasons = []
    for error in err.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        reasons.append(f"{where}: {message}" if where else message)
    return "; ".join(reasons)


class Rejected(ValueError):
    """An ops action that does not fit the case; the message says why, for the person who sent it."""
