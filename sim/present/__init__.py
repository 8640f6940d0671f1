"""Presentation: numbers as tables show them (`format`), progress (`progress`), chart builders
(`charts`) and the HTML report (`report`). It reads results; it never imports an engine."""
