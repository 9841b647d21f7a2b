"""Find connectors: one ``Connector`` subclass per module in ``connectors/``, plus every entry of
``connectors/feeds.yaml`` (declarative feeds). Names are unique across both."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache
from pathlib import Path

from biotracker.errors import ConfigError
from biotracker.ingest.connector import Connector, CsvConnector, JsonApiConnector
from biotracker.ingest.declarative import (
    FEEDS_FILE_NAME,
    DeclarativeJson,
    DeclarativeRss,
    declarative_classes,
)
from biotracker.ingest.dropfolder import DropFolderConnector
from biotracker.ingest.rss import RssConnector
from biotracker.schema import SourceKind, Tlp

_BASES = {
    Connector,
    CsvConnector,
    JsonApiConnector,
    RssConnector,
    DropFolderConnector,
    DeclarativeRss,
    DeclarativeJson,
}
KNOWN_CADENCES = {"@hourly", "@daily", "@weekly"}


def validate_connector(cls: type[Connector], module: str | None = None) -> None:
    """Fail fast on incomplete or inconsistent connector metadata (ConfigError says what to fix)."""
    missing = [attr for attr in Connector.REQUIRED if not getattr(cls, attr, None)]
    if missing:
        raise ConfigError(
            f"connector {cls.__name__} ({module or cls.__module__}) lacks {missing}; "
            "declare them as class attributes"
        )
    if module is not None:
        stem = module.rsplit(".", 1)[-1]
        if cls.name != stem:
            raise ConfigError(
                f"connector {cls.__name__}.name is {cls.name!r}; it must equal its module name {stem!r}"
            )
    if not isinstance(cls.kind, SourceKind):
        raise ConfigError(f"connector {cls.name}: kind must be a SourceKind, not {cls.kind!r}")
    if not isinstance(cls.tlp, Tlp):
        raise ConfigError(f"connector {cls.name}: tlp must be a Tlp marking, not {cls.tlp!r}")
    if cls.cadence not in KNOWN_CADENCES:
        raise ConfigError(
            f"connector {cls.name}: cadence {cls.cadence!r} is not one of {sorted(KNOWN_CADENCES)}"
        )
    if cls.fetch_kind not in {"http", "dropfolder"}:
        raise ConfigError(f"connector {cls.name}: fetch_kind must be 'http' or 'dropfolder'")
    if not isinstance(cls.primary_key, tuple) or not cls.primary_key:
        raise ConfigError(f"connector {cls.name}: primary_key must be a non-empty tuple of field names")


def feeds_file() -> Path:
    import connectors

    return Path(connectors.__file__).resolve().parent / FEEDS_FILE_NAME


@cache
def connector_classes() -> dict[str, type[Connector]]:
    """All registered connector classes by name (modules first, then declarative entries)."""
    import connectors

    found: dict[str, type[Connector]] = {}
    for info in pkgutil.iter_modules(connectors.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"connectors.{info.name}")
        classes = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, Connector)
            and obj not in _BASES
            and obj.__module__ == module.__name__
        ]
        if len(classes) != 1:
            raise ConfigError(
                f"connectors/{info.name}.py must define exactly one connector class, found {len(classes)}"
            )
        validate_connector(classes[0], module.__name__)
        found[classes[0].name] = classes[0]
    for name, cls in declarative_classes(feeds_file()).items():
        if name in found:
            raise ConfigError(
                f"connector name {name!r} is declared both in connectors/{name}.py and in "
                f"connectors/{FEEDS_FILE_NAME}; rename one of them"
            )
        validate_connector(cls)
        found[name] = cls
    return dict(sorted(found.items()))


def get_connector(name: str) -> Connector:
    classes = connector_classes()
    if name not in classes:
        raise ConfigError(f"no connector named {name!r}; known connectors: {', '.join(sorted(classes))}")
    return classes[name]()


def list_connectors(cadence: str | None = None) -> list[str]:
    """Connectors the pipeline fetches (pushed intake such as API contributions is not fetched)."""
    return sorted(
        n for n, c in connector_classes().items() if c.scheduled and (cadence is None or c.cadence == cadence)
    )
