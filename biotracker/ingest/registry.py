"""Find connectors: every module in the ``connectors`` package with one ``Connector`` subclass."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache

from biotracker.errors import ConfigError
from biotracker.ingest.connector import Connector, CsvConnector, JsonApiConnector

_BASES = {Connector, CsvConnector, JsonApiConnector}


def _validate(cls: type[Connector], module: str) -> None:
    missing = [attr for attr in Connector.REQUIRED if not getattr(cls, attr, None)]
    if missing:
        raise ConfigError(f"connector {cls.__name__} in {module} lacks {missing}; declare them as class attributes")
    stem = module.rsplit(".", 1)[-1]
    if cls.name != stem:
        raise ConfigError(f"connector {cls.__name__}.name is {cls.name!r}; it must equal its module name {stem!r}")


@cache
def connector_classes() -> dict[str, type[Connector]]:
    """All registered connector classes by name."""
    import connectors

    found: dict[str, type[Connector]] = {}
    for info in pkgutil.iter_modules(connectors.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"connectors.{info.name}")
        classes = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, Connector) and obj not in _BASES
            and obj.__module__ == module.__name__
        ]
        if len(classes) != 1:
            raise ConfigError(f"connectors/{info.name}.py must define exactly one connector class, found {len(classes)}")
        _validate(classes[0], module.__name__)
        found[classes[0].name] = classes[0]
    return found


def get_connector(name: str) -> Connector:
    classes = connector_classes()
    if name not in classes:
        raise ConfigError(f"no connector named {name!r}; known connectors: {', '.join(sorted(classes))}")
    return classes[name]()


def list_connectors(cadence: str | None = None) -> list[str]:
    return sorted(n for n, c in connector_classes().items() if cadence is None or c.cadence == cadence)
