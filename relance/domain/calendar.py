"""Business calendars: which days count, and when in a day a debtor may be contacted.

Every instant returned is timezone-aware; days are counted in the calendar's own time zone.
"""

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import Field, PrivateAttr, field_validator, model_validator

from relance.domain.invoice import Strict


class HolidayCalendar(Strict):
    country: str = Field(default="FR", pattern=r"^[A-Z]{2}$")
    subdivision: str | None = Field(default=None, description="e.g. '57' for Moselle (Alsace-Moselle days)")
    # Filled when a case takes the policy: the case keeps these dates for life, so workflows read data
    # (no library call in the sandbox) and a newer `holidays` release never moves a running case's steps.
    dates: list[date] | None = None
    _date_set: frozenset[date] | None = PrivateAttr(default=None)

    def check_known(self) -> None:
        try:
            _holidays(self.country, self.subdivision, 2026)
        except NotImplementedError as exc:
            raise ValueError(f"no holiday calendar for country {self.country!r}") from exc

    def contains(self, day: date) -> bool:
        if self.dates is None:
            return day in _holidays(self.country, self.subdivision, day.year)
        if self._date_set is None:
            self._date_set = frozenset(self.dates)
        return day in self._date_set

    def frozen(self, first_year: int, last_year: int) -> "HolidayCalendar":
        years = range(first_year, last_year + 1)
        dates = sorted(day for year in years for day in _holidays(self.country, self.subdivision, year))
        return self.model_copy(update={"dates": dates})


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
    return cal.holidays is not None and cal.holidays.contains(day)


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
