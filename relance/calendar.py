"""Business calendars: which days count, and when in a day a debtor may be contacted.

Every instant returned is timezone-aware; days are counted in the calendar's own time zone.
"""

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import Field, field_validator, model_validator

from relance.invoice import Strict


class HolidayCalendar(Strict):
    country: str = Field(default="FR", pattern=r"^[A-Z]{2}$")
    subdivision: str | None = Field(default=None, description="e.g. '57' for Moselle (Alsace-Moselle days)")

    @model_validator(mode="after")
    def _known(self) -> "HolidayCalendar":
        try:
            _holidays(self.country, self.subdivision, 2026)
        except NotImplementedError as exc:
            raise ValueError(f"no holiday calendar for country {self.country!r}") from exc
        return self


class SendingWindow(Strict):
    start: time = time(9, 0)
    end: time = time(18, 0)

    @model_validator(mode="after")
    def _ordered(self) -> "SendingWindow":
        if self.start >= self.end:
            raise ValueError(f"sending window start {self.start} must be before its end {self.end}")
        return self


class CalendarSpec(Strict):
    timezone: str = "Europe/Paris"
    holidays: HolidayCalendar | None = Field(default_factory=HolidayCalendar)
    business_days_only: bool = True
    sending_window: SendingWindow = Field(default_factory=SendingWindow)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


def is_holiday(day: date, cal: CalendarSpec) -> bool:
    if cal.holidays is None:
        return False
    return day in _holidays(cal.holidays.country, cal.holidays.subdivision, day.year)


def is_contact_day(day: date, cal: CalendarSpec) -> bool:
    if not cal.business_days_only:
        return True
    return day.weekday() < 5 and not is_holiday(day, cal)


def first_contact_day(day: date, cal: CalendarSpec) -> date:
    """The day itself if a debtor may be contacted then, else the next such day."""
    while not is_contact_day(day, cal):
        day += timedelta(days=1)
    return day


def local_day(at: datetime, cal: CalendarSpec) -> date:
    return at.astimezone(cal.zone).date()


def window_opens(day: date, cal: CalendarSpec) -> datetime:
    return datetime.combine(day, cal.sending_window.start, tzinfo=cal.zone)


def window_closes(day: date, cal: CalendarSpec) -> datetime:
    return datetime.combine(day, cal.sending_window.end, tzinfo=cal.zone)


def slot_on_or_after_day(day: date, cal: CalendarSpec) -> datetime:
    """Opening of the sending window on the first contact day on or after `day`."""
    return window_opens(first_contact_day(day, cal), cal)


def next_send_slot(at: datetime, cal: CalendarSpec) -> datetime:
    """The earliest instant >= `at` inside a sending window on a contact day."""
    day = local_day(at, cal)
    if is_contact_day(day, cal):
        if at < window_opens(day, cal):
            return window_opens(day, cal)
        if at < window_closes(day, cal):
            return at
    return slot_on_or_after_day(day + timedelta(days=1), cal)


def start_of_day(day: date, cal: CalendarSpec) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=cal.zone)
