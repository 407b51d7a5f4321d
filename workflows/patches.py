"""Workflow patches, and the generation markers that stand for them in new cases.

A case records one patch marker when it is created, its generation's (`pin_generation`, from
`workflow.init`), which implies every patch of that generation: `patched(id)` answers True for them without a
marker of its own (each marker is also a visibility write, Temporal's `TemporalChangeVersion` upsert). A case
of an older generation asks a newer patch of Temporal as usual, so every generation's histories replay
unchanged, and a case never switches to new branches halfway through its run.

Generations v1–v12 (cases without a generation marker, all from before the first release) are retired:
their branches are deleted, `pin_generation` refuses their histories, and the worker refuses to start while
the namespace holds an open one (`starter.namespace.retired_cases`). ARCHITECTURE.md has the checklist for the
next change.
"""

from temporalio import workflow

# Each generation implies the patches of the one before it, and its own (the marker stays one per case).
_V13: frozenset[str] = frozenset()
_V14 = _V13 | {"open-in-one-v1"}
_V15 = _V14 | {"keep-moved-cursor-v1", "recovery-once-v1"}
_V16 = _V15 | {"contact-day-v1", "signal-trace-v1", "letter-first-v1", "notices-planned-v1"}
_V17 = _V16 | {"lone-voice-v1"}
_V18 = _V17 | {"quiet-open-v1"}
_V19 = _V18 | {"batch-alone-v1", "open-with-policy-v1", "lone-call-v1"}
_V20 = _V19 | {"send-here-v1", "fire-unshown-v1"}
GENERATIONS = (  # newest first: a new workflow records the first one's marker; the last is the oldest kept
    ("generation-v20", _V20),
    ("generation-v19", _V19),
    ("generation-v18", _V18),
    ("generation-v17", _V17),
    ("generation-v16", _V16),
    ("generation-v15", _V15),
    ("generation-v14", _V14),
    ("generation-v13", _V13),
)
GENERATION, IMPLIED = GENERATIONS[0]
MARKERS = tuple(marker for marker, _implied in GENERATIONS)
EVER_IMPLIED = frozenset().union(*(implied for _marker, implied in GENERATIONS))

PINNED = "_relance_generation"  # set on the workflow object by pin_generation: the patches implied


class GenerationNotPinned(RuntimeError):
    """A workflow asked a patch some generation implies without having pinned its generation in `workflow.init`.

    A bug in the workflow's code, not in its input: the task fails, Temporal retries it, and the workflow
    goes on once the code that pins is deployed (it must not guess a branch meanwhile)."""


class RetiredGeneration(RuntimeError):
    """The history being replayed holds no generation marker: a case of a retired generation (v1–v12).

    This code no longer has its branches. The task fails and Temporal retries it, so the case waits, intact,
    for a worker of the release that still runs it; the worker refuses to start where such cases are open."""


def pin_generation(owner: object) -> str:
    """Called first thing in `workflow.init` (`pin_generation(self)`) by every workflow whose code asks a
    patch a generation implies (today InvoiceCollection; CustomerAccount asks none): the generation's marker
    (a new workflow records the newest's, once, here). Unpinned, a workflow would write the marker at its
    first implied patch, mid-run: `patched` refuses that."""
    for marker, implied in GENERATIONS:  # on replay, the first whose marker the history holds
        if workflow.patched(marker):
            setattr(owner, PINNED, implied)
            return marker
    kind = workflow.info().workflow_type
    raise RetiredGeneration(
        f"{kind} {workflow.info().workflow_id} was started before generation markers ({MARKERS[-1]}): its"
        " generation is retired from this release; run it on the release before, or let it close first"
    )


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
