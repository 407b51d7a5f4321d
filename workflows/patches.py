"""Workflow patches, and the generation marker that stands for all of them in new cases.

Every `workflow.patched(id)` a new workflow passes writes a marker and upserts Temporal's
`TemporalChangeVersion` search attribute, a visibility write on the server. A case's first task asked seven
patches (seven markers and seven upserts before it did any work of its own), which cost the server more than
the case's own commands. Workflows started from this generation on record one marker, `GENERATION`, which
implies every patch in `IMPLIED`. A workflow whose history lacks that marker (started before it) asks each
patch as it always did, so every saved history replays unchanged.

The generation is pinned when the workflow is created (`pin_generation`, from `workflow.init`): a case
started before it and replayed, then run on, never switches to the new branches halfway through its run.
A patch added later is not in `IMPLIED`: it is asked of Temporal as usual, and joins the `IMPLIED` of a
next generation only under a new `GENERATION` id (a running case of this one would replay its older events
down the new branch).
"""

from temporalio import workflow

GENERATION = "generation-v13"
IMPLIED = frozenset(
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


PINNED = "_relance_generation"  # set on the workflow object by pin_generation: True, False, or absent


class GenerationNotPinned(RuntimeError):
    """A workflow asked a patch of `IMPLIED` without having pinned the generation in `workflow.init`.

    A bug in the workflow's code, not in its input: the task fails, Temporal retries it, and the workflow
    goes on once the code that pins is deployed (it must not guess a branch meanwhile)."""


def pin_generation(owner: object) -> bool:
    """Called first thing in `workflow.init` (`pin_generation(self)`) by every workflow whose code asks a
    patch in `IMPLIED` (today InvoiceCollection; CustomerAccount asks none): True for a workflow of this
    generation (the marker is written once, here), False for one whose history was written before it.
    Unpinned, a workflow would write the marker at its first implied patch, mid-run: `patched` refuses that."""
    pinned = workflow.patched(GENERATION)
    setattr(owner, PINNED, pinned)
    return pinned


def patched(patch_id: str) -> bool:
    """`workflow.patched`, answered True without a marker of its own for a workflow of this generation."""
    if patch_id in IMPLIED:
        pinned = getattr(workflow.instance(), PINNED, None)
        if pinned is None:
            kind = workflow.info().workflow_type
            raise GenerationNotPinned(
                f"{kind} asked patch {patch_id!r}, implied by {GENERATION}, without pinning the generation:"
                " call pin_generation(self) first thing in its workflow.init"
            )
        if pinned:
            return True
    return workflow.patched(patch_id)
