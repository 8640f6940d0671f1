"""The clock on a real calendar: hours since t = 0, weekdays, financial years, hour-of-week
schedules (`calendar`, `schedule`) and step functions of time (`stepfn`)."""
