"""Workflow patches, and the generation markers that stand for them in new cases.

Every `workflow.patched(id)` a new workflow passes writes a marker and upserts Temporal's
`TemporalChangeVersion` search attribute, a visibility write on the server. A case's first task asked seven
patches (seven markers and seven upserts before it did any work of its own), which cost the server more than
the case's own commands. Workflows started since generation v13 record one marker, their generation's, which
implies every patch of that generation. A workflow whose history lacks a generation marker (started before
v13) asks each patch as it always did, so every saved history replays unchanged.

The generation is pinned when the workflow is created (`pin_generation`, from `workflow.init`): a case
started before it and replayed, then run on, never switches to the new branches halfway through its run.
A patch added later is not implied by the generations before it: a case of theirs asks it of Temporal as
usual. It joins a new generation, newest first in `GENERATIONS`, whose marker new cases record instead;
the older generations stay, for the cases that recorded theirs.
"""

from temporalio import workflow

V13_IMPLIED = frozenset(
    {
        "ledger-v1",
        "search-attributes-v1",
        "ledger-on-cancel-v1",
        "channel-fallback-v1",
        "customer-voice-v1",
        "start-contract-v1",
        "sync-before-sleep-v1",
        "trim-carried-history-v1",
        "local-activities-v1",
        "pause-clock-v1",
        "wake-on-long-history-v1",
    }
)
GENERATIONS = (  # newest first: a new workflow records the first one's marker
    ("generation-v15", V13_IMPLIED | {"open-in-one-v1", "keep-moved-cursor-v1", "recovery-once-v1"}),
    ("generation-v14", V13_IMPLIED | {"open-in-one-v1"}),
    ("generation-v13", V13_IMPLIED),
)
GENERATION, IMPLIED = GENERATIONS[0]
EVER_IMPLIED = frozenset().union(*(implied for _marker, implied in GENERATIONS))

PINNED = "_relance_generation"  # set on the workflow object by pin_generation: the patches implied, or absent


class GenerationNotPinned(RuntimeError):
    """A workflow asked a patch some generation implies without having pinned its generation in `workflow.init`.

    A bug in the workflow's code, not in its input: the task fails, Temporal retries it, and the workflow
    goes on once the code that pins is deployed (it must not guess a branch meanwhile)."""


def pin_generation(owner: object) -> bool:
    """Called first thing in `workflow.init` (`pin_generation(self)`) by every workflow whose code asks a
    patch a generation implies (today InvoiceCollection; CustomerAccount asks none): True for a workflow of a
    generation (a new one records the newest's marker, once, here), False for one started before them.
    Unpinned, a workflow would write the marker at its first implied patch, mid-run: `patched` refuses that."""
    for marker, implied in GENERATIONS:  # on replay, the first whose marker the history holds
        if workflow.patched(marker):
            setattr(owner, PINNED, implied)
            return True
    setattr(owner, PINNED, frozenset())
    return False


def patched(patch_id: str) -> bool:
    """`workflow.patched`, answered True without a marker of its own for a workflow whose generation implies it."""
    if patch_id in EVER_IMPLIED:
        pinned = getattr(workflow.instance(), PINNED, None)
        if pinned is None:
            kind = workflow.info().workflow_type
            raise GenerationNotPinned(
                f"{kind} asked patch {patch_id!r}, implied by {GENERATION}, without pinning the generation:"
                " call pin_generation(self) first thing in its workflow.init"
            )
        if patch_id in pinned:
            return True
    return workflow.patched(patch_id)
