"""click parameter types that more than one command reads."""

from __future__ import annotations

import calendar
import re
from datetime import datetime

import click


class IsoDate(click.DateTime):
    """A YYYY-MM-DD option. An impossible date is said to be one: click's own type says '2026-13-01'
    "does not match the format '%Y-%m-%d'", which it does."""

    FORMAT = "%Y-%m-%d"

    def __init__(self) -> None:
        super().__init__([self.FORMAT])

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            return datetime.strptime(text, self.FORMAT)
        except ValueError:
            pass
        shaped = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
        if shaped is None:
            self.fail(f"{text!r} is not a date: write YYYY-MM-DD, e.g. 2026-11-30", param, ctx)
        year, month, _ = (int(part) for part in shaped.groups())
        why = (f"there is no month {month}" if not 1 <= month <= 12 else
               f"{calendar.month_name[month]} {year} has {calendar.monthrange(year, month)[1]} days" if year else "there is no year 0")
        self.fail(f"{text!r} is not a real date ({why})", param, ctx)
