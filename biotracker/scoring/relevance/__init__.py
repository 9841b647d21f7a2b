"""Law-enforcement relevance of alerts, learned from analysts' ``relevant``/``not-relevant`` labels.

With no valid model the rule score ranks (``alerts.features["rule_score"]``, then tier); once
``retrain_models`` has saved a card-validated skops model under ``models/``, its probability ranks.
See docs/RELEVANCE.md.
"""

from biotracker.scoring.relevance.load import InvalidModel, LoadedModel, load_newest_model, validate_card
from biotracker.scoring.relevance.rank import RankedAlert, rank_alerts
from biotracker.scoring.relevance.train import ModelCard, NotEnoughLabels, train_relevance_model

__all__ = [
    "InvalidModel",
    "LoadedModel",
    "ModelCard",
    "NotEnoughLabels",
    "RankedAlert",
    "load_newest_model",
    "rank_alerts",
    "train_relevance_model",
    "validate_card",
]
