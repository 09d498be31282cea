"""Great-expectations suites (JSON), shipped as package data: installed as ``zygarde.expectations``."""
