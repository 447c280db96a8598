"""Helpers shared by test modules (imported as ``helpers.<name>``; tests/ is on sys.path)."""
