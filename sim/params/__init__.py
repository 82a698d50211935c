"""Scenario parameters: the typed schema, YAML loading and located errors."""
