"""The ``biotracker`` command line (typer). Each topic lives in its own module with ``register(app)``."""
