"""Case time: real time for production cases, compressed time for demos, fixed origins for simulations."""

from datetime import datetime, timedelta

from pydantic import BaseModel

from relance.domain.invoice import DemoClock

DAY_SECONDS = 86400.0


class CaseClock(BaseModel):
    """Anchors case time to real (workflow) time once, when the case starts; carried for the case's life."""

    real_start: datetime
    case_start: datetime
    seconds_per_day: float = DAY_SECONDS

    @classmethod
    def anchor(cls, real_now: datetime, demo: DemoClock | None) -> "CaseClock":
        if demo is None:
            return cls(real_start=real_now, case_start=real_now)
        return cls(
            real_start=real_now,
            case_start=demo.starts_at or real_now,
            seconds_per_day=demo.seconds_per_day,
        )

    @property
    def speed(self) -> float:
        return DAY_SECONDS / self.seconds_per_day

    def case_time(self, real_now: datetime) -> datetime:
        if self.speed == 1.0:
            return self.case_start + (real_now - self.real_start)
        return self.case_start + (real_now - self.real_start) * self.speed

    def real_time(self, case_at: datetime) -> datetime:
        if self.speed == 1.0:
            return self.real_start + (case_at - self.case_start)
        return self.real_start + (case_at - self.case_start) / self.speed

    def real_delay(self, case_delay: timedelta) -> timedelta:
        return case_delay / self.speed if self.speed != 1.0 else case_delay
