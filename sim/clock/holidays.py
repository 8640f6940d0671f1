"""English bank holidays, from the ``holidays`` package (``country_holidays("GB", subdiv="ENG")``).

Weekday services (a Mon-Fri rota: social work, home-care providers' offices,
discharge teams) close on bank holidays as they do at weekends, which is when
delayed discharges pile up: Christmas, New Year and Easter. The package keeps
the substitute days (a Christmas on a Saturday moves to the Monday after) and
the one-off days (jubilees, a coronation, a state funeral).

The module is a leaf: it knows nothing of scenarios or engines.
"""

from __future__ import annotations

import datetime as dt


def english_bank_holidays(first: dt.date, last: dt.date) -> tuple[dt.date, ...]:
    """The English bank holidays from ``first`` to ``last`` (both included), in date order."""
    import holidays

    found = holidays.country_holidays("GB", subdiv="ENG", years=range(first.year, last.year + 1))
    return tuple(sorted(day for day in found if first <= day <= last))
