"""The planner's scenario explorer: a local web app to change the levers, run and compare.

``leftshift app`` serves :mod:`sim.app.page` with Streamlit on 127.0.0.1. A planner picks
a scenario from ``configs/`` (or uploads one), edits any input (the main levers first),
runs it on the fast engine against a comparator, reads the report's headline table and
charts, and takes away the edited scenario (a file that ``extends`` the one it came from),
``report.html`` and ``summary.csv``.

The rooms: :mod:`~sim.app.inputs` (a scenario's inputs, units and help from its schema;
the edits as TOML), :mod:`~sim.app.sources` (the library and uploads, kept inside
``configs/``), :mod:`~sim.app.answer` (a run as the app shows it), :mod:`~sim.app.serve`
(the server's command line) and :mod:`~sim.app.page` (the Streamlit page). The app uses
the public API (:mod:`sim`) and the presentation layer (:mod:`sim.present`), never an
engine.
"""

CONFIGS_ENV = "LEFTSHIFT_APP_CONFIGS"
"""The environment variable naming the scenario library the page offers (default: the
``configs/`` folder of the working directory)."""
