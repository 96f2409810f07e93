"""Browser tests: the fixtures live in tests/browser/fixtures.py, loaded for the whole
suite by the root conftest, so every test that drives Chromium shares one browser."""
