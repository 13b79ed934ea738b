"""Test helpers shared across suites (importable as ``support`` because tests/conftest.py sits beside it)."""
