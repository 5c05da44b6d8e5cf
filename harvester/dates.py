"""Publication dates as PubMed prints them, and the sortable ISO date behind them.

PubMed prints a journal's date the way the journal did: "2023 Dec 05", "2003 Spring",
"1998 Dec-1999 Jan", "2000 Jul-Aug". A researcher cites the printed form; sorting and year
filters need a day. We keep both, and the sortable date is the *earliest* day the printed
date allows (the first month of a range, the first day of a month or season), so a range
never sorts after a record that appeared within it.
"""

from __future__ import annotations

import re

from corpus.article import MONTHS

_MONTH_NUMBER = {name.lower(): number for number, name in enumerate(MONTHS, start=1)}

# NLM prints seasons instead of months for some quarterly journals. A season is mapped to its
# first month inside the same year ("Winter 2003" is sorted to January, its earliest reading).
_SEASON_MONTH = {"winter": 1, "spring": 3, "summer": 6, "fall": 9, "autumn": 9}

# The first year, then optionally a month (name, number or season) and a day, of a MedlineDate
# such as "1998 Dec-1999 Jan", "2001 Jan 4-10" or "2000 Spring".
_FIRST_DATE = re.compile(r"(\d{4})(?:[\s/-]+([A-Za-z]+|\d{1,2})\b(?:\s+(\d{1,2})\b)?)?")


def month_number(text: str) -> int | None:
    """1–12 for 'Dec', 'December', '12' or a season name; None when it is none of these."""
    text = text.strip().lower()
    if text.isdigit():
        number = int(text)
        return number if 1 <= number <= 12 else None
    return _MONTH_NUMBER.get(text[:3]) or _SEASON_MONTH.get(text)


def month_name(text: str) -> str:
    """'12' → 'Dec' for printing; names and seasons are kept as given."""
    if text.strip().isdigit():
        number = month_number(text)
        return MONTHS[number - 1] if number else text.strip()
    return text.strip()


def iso_date(year: str, month: str = "", day: str = "") -> str:
    """'YYYY-MM-DD' from parts that may be missing (missing month/day → 01); '' without a year."""
    year = year.strip()
    if not (len(year) == 4 and year.isdigit()):
        return ""
    number = month_number(month) if month else None
    day_number = int(day) if day.strip().isdigit() and 1 <= int(day) <= 31 else 1
    return f"{year}-{number or 1:02d}-{day_number if number else 1:02d}"


def sort_date(printed: str) -> str:
    """The earliest ISO day a printed date ('2003 Spring', '1998 Dec-1999 Jan') allows; '' if no year."""
    match = _FIRST_DATE.search(printed)
    if not match:
        return ""
    year, month, day = match.group(1), match.group(2) or "", match.group(3) or ""
    if month and month_number(month) is None:
        month, day = "", ""
    return iso_date(year, month, day)


def printed_date(year: str, month: str = "", day: str = "", season: str = "") -> str:
    """'2023 Dec 05' / '2003 Spring' from PubDate parts, as PubMed prints them."""
    parts = [year.strip(), month_name(month) if month.strip() else season.strip(), day.strip() if month.strip() else ""]
    return " ".join(part for part in parts if part)


def date_or_year(printed: str, year: str) -> tuple[str, str]:
    """(as printed, sortable) from a file's printed date, else from its year: our CSV and JSON Lines
    exports carry both, older exports and other tools' files the year alone."""
    year = year.strip()[:4]
    return printed or (year if year.isdigit() else ""), sort_date(printed) or iso_date(year)
