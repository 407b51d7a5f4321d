"""Preparing a Temporal namespace for Relance: the case search attributes, checked and registered; open cases
of a retired generation, found before a worker that cannot run them starts."""

from dataclasses import dataclass

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
    ListSearchAttributesResponse,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from workflows.patches import MARKERS
from workflows.search_attributes import attribute_types

CANNOT_LIST = (
    "this server cannot list search attributes (the time-skipping test server, for one), so the case "
    "attributes were not checked"
)


async def _listed(client: Client, namespace: str) -> ListSearchAttributesResponse | None:
    """The namespace's attributes, or None from a server without the operator API's list call."""
    try:
        return await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    except RPCError as err:
        if err.status == RPCStatusCode.UNIMPLEMENTED:
            return None
        raise


async def missing_attributes(client: Client, namespace: str) -> list[str] | None:
    """The case attributes the namespace lacks or holds with another type, as `Name (Type)`; None when the
    server cannot say."""
    listed = await _listed(client, namespace)
    if listed is None:
        return None
    known = {**listed.system_attributes, **listed.custom_attributes}
    return [
        f"{name} ({IndexedValueType.Name(kind).removeprefix('INDEXED_VALUE_TYPE_').title()})"
        for name, kind in attribute_types().items()
        if known.get(name) != kind
    ]


# A case records its generation's patch marker, which Temporal keeps in TemporalChangeVersion. A case of a
# retired generation recorded only the markers of single patches (v2-v12), or none at all (v1, whose code
# existed until V1_ENDED). A case that has not run its first task yet has none either: it is not retired (the
# new workers will give it the newest generation), so "none" counts only for cases started while v1 ran.
V1_ENDED = "2026-11-25T05:47:08Z"  # the commit that added ledger-v1, the first patch
RETIRED_QUERY = (
    "WorkflowType = 'InvoiceCollection' AND ExecutionStatus = 'Running' AND ("
    f"(TemporalChangeVersion IS NOT NULL AND TemporalChangeVersion NOT IN ({', '.join(repr(m) for m in MARKERS)}))"
    f" OR (TemporalChangeVersion IS NULL AND StartTime < '{V1_ENDED}'))"
)
NO_VISIBILITY = (
    "this server has no visibility queries (the time-skipping test server, for one), so open cases of retired"
    " generations were not looked for"
)


@dataclass(frozen=True)
class RetiredCases:
    count: int
    named: list[str]  # the first few workflow ids

    def refusal(self, namespace: str) -> str:
        more = f" and {self.count - len(self.named)} more" if self.count > len(self.named) else ""
        return (
            f"namespace {namespace} holds {self.count} open case(s) of a generation this release retired (started"
            f" before {MARKERS[-1]}): {', '.join(self.named)}{more}; let them close, or run the previous release's"
            f" workers until they do (they are listed by: {RETIRED_QUERY})"
        )


async def retired_cases(client: Client, *, named: int = 20) -> RetiredCases | None:
    """Open cases this release's workflow code cannot replay; None when the server cannot be asked."""
    try:
        count = (await client.count_workflows(RETIRED_QUERY)).count
        if count == 0:
            return RetiredCases(0, [])
        ids = [execution.id async for execution in client.list_workflows(RETIRED_QUERY, limit=named)]
    except RPCError as err:
        if err.status == RPCStatusCode.UNIMPLEMENTED:
            return None
        raise
    return RetiredCases(count, ids)


@dataclass(frozen=True)
class Registration:
    added: list[str]  # the names added (none when all were there)
    listed: bool  # False: the server cannot list attributes, so their types were not checked


async def register_attributes(client: Client, namespace: str) -> Registration:
    """Add the case attributes the namespace lacks."""
    listed = await _listed(client, namespace)
    wanted = attribute_types()
    if listed is None:  # add each one; the server says which it already had
        added = []
        for name, kind in wanted.items():
            try:
                await client.operator_service.add_search_attributes(
                    AddSearchAttributesRequest(namespace=namespace, search_attributes={name: kind})
                )
                added.append(name)
            except RPCError as err:
                if err.status != RPCStatusCode.ALREADY_EXISTS:
                    raise
        return Registration(sorted(added), listed=False)
    conflicting = [
        name
        for name, kind in wanted.items()
        if name in listed.custom_attributes and listed.custom_attributes[name] != kind
    ]
    if conflicting:
        raise ValueError(f"search attributes registered with another type: {', '.join(conflicting)}")
    to_add = {name: kind for name, kind in wanted.items() if name not in listed.custom_attributes}
    if to_add:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=to_add)
        )
    return Registration(sorted(to_add), listed=True)
