"""What the bank watch is asked and what it answers: pure shapes the schedule's workflow and its activity
share (the workflow sandbox imports them)."""

from datetime import date

from pydantic import BaseModel, Field

IMPORT_BANK_FOLDER = "import_bank_folder"
WATCH_SCHEDULE_ID = "relance-bank-watch"


class WatchRequest(BaseModel):
    folder: str  # absolute: the worker may run elsewhere than the command that set the schedule up
    archive: str
    settle_seconds: int = Field(
        default=120, ge=0, le=86_400, description="a file younger than this may be half written"
    )


class WatchedFile(BaseModel):
    name: str
    outcome: str  # imported, duplicate, refused, unknown_account, waiting
    detail: str
    archived_to: str | None = None


class WatchReport(BaseModel):
    day: date
    files: list[WatchedFile] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)  # accounts whose statement did not come on a business day

    def line(self) -> str:
        counts: dict[str, int] = {}
        for f in self.files:
            counts[f.outcome] = counts.get(f.outcome, 0) + 1
        parts = [f"{n} {outcome}" for outcome, n in sorted(counts.items())] or ["no file"]
        missing = f"; no statement for {', '.join(self.missing)}" if self.missing else ""
        return f"{self.day}: {', '.join(parts)}{missing}"
