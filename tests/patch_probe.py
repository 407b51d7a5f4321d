"""Tiny workflows that ask a patch implied by the generation, one pinning it first and one not: what
tests/workflows/test_durability.py runs to show that `patched` refuses an unpinned workflow instead of guessing; and one
of the same name as the pinned probe that records no marker, as a case of a retired generation did.

Kept in a module of its own, light enough for the sandbox to import for every instance."""

from temporalio import workflow

from workflows.patches import patched, pin_generation


@workflow.defn(name="PinnedPatchProbe")
class PinnedPatchProbe:
    @workflow.init
    def __init__(self) -> None:
        pin_generation(self)

    @workflow.run
    async def run(self) -> bool:
        return patched("recovery-once-v1")


@workflow.defn(name="UnpinnedPatchProbe")
class UnpinnedPatchProbe:
    @workflow.run
    async def run(self) -> bool:
        return patched("recovery-once-v1")


@workflow.defn(name="PinnedPatchProbe")
class RetiredPatchProbe:
    """What the pinned probe was before generation markers: its history holds none."""

    @workflow.run
    async def run(self) -> bool:
        return True


@workflow.defn(name="InvoiceCollection")
class LegacyCase:
    """A case as generations before markers left them, run by a test worker only: it asks the patches given
    (none, like v1; single patches, like v2-v12; or a generation's marker) and waits."""

    @workflow.run
    async def run(self, markers: list[str]) -> None:
        for marker in markers:
            workflow.patched(marker)
        await workflow.wait_condition(lambda: False)
