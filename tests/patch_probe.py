"""Two tiny workflows that ask a patch implied by the generation, one pinning it first and one not: what
tests/test_durability.py runs to show that `patched` refuses an unpinned workflow instead of guessing.

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
        return patched("ledger-v1")


@workflow.defn(name="UnpinnedPatchProbe")
class UnpinnedPatchProbe:
    @workflow.run
    async def run(self) -> bool:
        return patched("ledger-v1")
