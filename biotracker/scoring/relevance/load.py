"""Load the newest relevance model whose card vouches for it — with skops, never pickle.

A model is used only when its card parses, its artefact is a ``.skops`` file next to the card,
the artefact's sha256 equals the card's, the library versions it was saved with match the running
ones, and every type skops does not trust by default is on ``ALLOWED_TYPES``. Anything else is
skipped with the reason (``biotracker models list`` shows it) and the next-newest card is tried;
with none left the caller falls back to the rule score.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import skops.io as sio
from sklearn.pipeline import Pipeline

from biotracker.errors import BiotrackerError
from biotracker.scoring.relevance.features import FEATURE_VERSION
from biotracker.scoring.relevance.train import (
    CARD_SCHEMA,
    MODEL_NAME,
    ModelCard,
    file_sha256,
    library_versions,
)
from biotracker.storage import StoragePath

log = logging.getLogger(__name__)

#: Types outside skops' default trust that a relevance model may contain. Empty today: the
#: pipeline holds only scikit-learn/numpy/scipy types skops trusts. Add a type here only after
#: reading what it does when loaded; a file asking for anything else is refused.
ALLOWED_TYPES: frozenset[str] = frozenset()
#: Must be equal between the card and the running interpreter (numpy: same major.minor).
EXACT_VERSIONS = ("scikit-learn", "skops")
MINOR_VERSIONS = ("numpy",)


class InvalidModel(BiotrackerError):
    """A saved model failed validation against its card; retrain with `biotracker models train`."""


@dataclass
class LoadedModel:
    card: ModelCard
    pipeline: Pipeline
    path: StoragePath


def cards(models_dir: StoragePath) -> list[StoragePath]:
    """Every relevance model card under ``models_dir``."""
    return sorted(models_dir.glob(f"{MODEL_NAME}-*.card.json")) if models_dir.is_dir() else []


def read_card(card_path: StoragePath) -> ModelCard:
    try:
        return ModelCard.from_json(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidModel(f"{card_path.name}: unreadable model card ({exc}); delete it or retrain") from exc


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def validate_card(card: ModelCard, models_dir: StoragePath) -> StoragePath:
    """The artefact path if ``card`` vouches for it under the running libraries; raises ``InvalidModel``."""
    if card.card_schema != CARD_SCHEMA:
        raise InvalidModel(
            f"{card.model_id}: card schema {card.card_schema}, expected {CARD_SCHEMA}; retrain"
        )
    if card.features.get("version") != FEATURE_VERSION:
        raise InvalidModel(
            f"{card.model_id}: feature version {card.features.get('version')}, the code "
            f"builds version {FEATURE_VERSION}; retrain with `biotracker models train`"
        )
    path = models_dir / card.artefact
    if path.name != card.artefact or path.suffix != ".skops":
        raise InvalidModel(
            f"{card.model_id}: artefact {card.artefact!r} is not a .skops file in "
            f"{models_dir}; only skops artefacts are loaded (never pickle)"
        )
    if not path.is_file():
        raise InvalidModel(f"{card.model_id}: artefact {path} is missing; retrain or restore it")
    actual = file_sha256(path)
    if actual != card.sha256:
        raise InvalidModel(
            f"{card.model_id}: {path.name} has sha256 {actual[:12]}…, the card says "
            f"{card.sha256[:12]}…; the file changed after training. Retrain or restore it"
        )
    running = library_versions()
    for name in (*EXACT_VERSIONS, *MINOR_VERSIONS):
        saved = card.library_versions.get(name, "")
        same = saved == running[name] if name in EXACT_VERSIONS else _minor(saved) == _minor(running[name])
        if not same:
            raise InvalidModel(
                f"{card.model_id}: saved with {name} {saved}, running {running[name]}; "
                "retrain with `biotracker models train`"
            )
    return path


def check_artefact(path: StoragePath) -> list[str]:
    """The artefact's types outside skops' default trust, all on ``ALLOWED_TYPES``; raises
    ``InvalidModel`` otherwise. Reads the file's schema only: nothing in it is executed."""
    if path.suffix != ".skops":
        raise InvalidModel(f"{path.name}: only .skops artefacts are loaded; pickle files are never opened")
    try:
        data = path.read_bytes()  # through the storage layer: a local file or an object in a store
        untrusted = sio.get_untrusted_types(file=io.BytesIO(data))
    except Exception as exc:  # not a skops zip, corrupt schema …
        raise InvalidModel(f"{path.name}: not a readable skops file ({exc}); retrain") from exc
    refused = sorted(set(untrusted) - ALLOWED_TYPES)
    if refused:
        raise InvalidModel(
            f"{path.name}: contains types that are not on the allow-list: {refused}; "
            "refusing to load it. Retrain with `biotracker models train`"
        )
    return sorted(untrusted)


def load_artefact(path: StoragePath) -> Pipeline:
    """Load a ``.skops`` file, trusting only skops' defaults plus ``ALLOWED_TYPES``."""
    untrusted = check_artefact(path)
    try:
        # Bytes, not the path: the artefact may be an object in a store (the storage layer).
        pipeline = sio.load(io.BytesIO(path.read_bytes()), trusted=untrusted)
    except Exception as exc:  # a schema that lies about its content
        raise InvalidModel(f"{path.name}: could not be loaded ({exc}); retrain") from exc
    if not isinstance(pipeline, Pipeline):
        raise InvalidModel(f"{path.name}: holds a {type(pipeline).__name__}, not a scikit-learn Pipeline")
    return pipeline


def survey(models_dir: StoragePath) -> list[tuple[ModelCard | None, StoragePath, str | None]]:
    """Every card, newest first, with the reason it is unusable (None when valid).

    "Valid" is every check :func:`load_newest_model` makes before loading (card, checksum, library
    versions, artefact types), so a listing never calls usable what loading would refuse."""
    found: list[tuple[ModelCard | None, StoragePath, str | None]] = []
    for card_path in cards(models_dir):
        try:
            card = read_card(card_path)
        except InvalidModel as exc:
            found.append((None, card_path, str(exc)))
            continue
        try:
            check_artefact(validate_card(card, models_dir))
            found.append((card, card_path, None))
        except InvalidModel as exc:
            found.append((card, card_path, str(exc)))
    return sorted(found, key=lambda item: _newest_key(item[0]), reverse=True)


def _newest_key(card: ModelCard | None) -> tuple[str, int, str]:
    if card is None:
        return ("", 0, "")
    return (card.trained_at, card.labels.get("total", 0), card.model_id)


def load_newest_model(models_dir: StoragePath) -> LoadedModel | None:
    """The newest model that passes validation and loads, or None (the rule score then ranks)."""
    for card, card_path, problem in survey(models_dir):
        if card is None or problem:
            log.warning("skipping %s: %s", card_path.name, problem)
            continue
        path = models_dir / card.artefact
        try:
            return LoadedModel(card, load_artefact(path), path)
        except InvalidModel as exc:
            log.warning("skipping %s: %s", card_path.name, exc)
    return None
