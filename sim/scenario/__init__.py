"""Scenarios: the validated schema (`schema`), files and `extends` (`files`), error messages
(`messages`), and a scenario resolved into engine units and costing (`params`)."""
