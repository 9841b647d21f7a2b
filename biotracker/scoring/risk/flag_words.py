"""The one renderer of agent flags into words, used by every output that names them.

The risk lens stores an incident's agent flags (select agent and Tier 1, CDC category, Australia
Group, WOAH, WHO Blueprint, IHR, eradicated); the alert reasons, the risk indicators' context, the
digest, CAP, STIX, JSON, email and the CLI all say them in words. They used to do so in three
places with three wordings ("select agent (HHS), Tier 1", "US select agent (HHS, Tier 1)", ...), so
an analyst could not match an alert's reason to its digest line. :func:`agent_flag_words` is the only
place that turns flags into words; :class:`AgentFlag` names the flags once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from biotracker.scoring.risk.agents import Agent


class AgentFlag(StrEnum):
    """The flags of an agent, in the order they are said (most telling for law enforcement first)."""

    SELECT_AGENT = "select_agent"
    CDC_CATEGORY = "cdc_category"
    AUSTRALIA_GROUP = "australia_group"
    WOAH_LISTED = "woah_listed"
    WHO_PRIORITY = "who_priority"
    IHR_ALWAYS_NOTIFIABLE = "ihr_always_notifiable"
    ERADICATED = "eradicated"


#: The flags the alert tier rules act on (what an alert's reason names).
TIER_RULE_FLAGS = frozenset(
    {AgentFlag.SELECT_AGENT, AgentFlag.CDC_CATEGORY, AgentFlag.AUSTRALIA_GROUP, AgentFlag.ERADICATED}
)


class AgentFlags(BaseModel):
    """An agent's flags as the risk lens stores them (``incident_assessments.agent_flags``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    select_agent: str | None = None
    tier1: bool | None = None
    cdc_category: str | None = None
    australia_group: bool | None = None
    woah_listed: bool | None = None
    who_priority: bool | None = None
    ihr_always_notifiable: bool | None = None
    eradicated: bool | None = None

    @classmethod
    def of(cls, source: AgentFlags | Agent | Mapping[str, Any] | None) -> AgentFlags:
        """From an agents-table row, a stored flags mapping, or nothing (no flags)."""
        if source is None:
            return cls()
        if isinstance(source, AgentFlags):
            return source
        if isinstance(source, Agent):
            return cls(
                select_agent=source.select_agent.value if source.select_agent else None,
                tier1=source.tier1,
                cdc_category=source.cdc_category.value if source.cdc_category else None,
                australia_group=source.australia_group,
                woah_listed=source.woah_listed,
                who_priority=source.who_priority,
                ihr_always_notifiable=source.ihr_always_notifiable,
                eradicated=source.eradicated,
            )
        return cls.model_validate(dict(source))


_WORDS: dict[AgentFlag, str] = {
    AgentFlag.AUSTRALIA_GROUP: "Australia Group export-controlled",
    AgentFlag.WOAH_LISTED: "WOAH-listed",
    AgentFlag.WHO_PRIORITY: "WHO R&D Blueprint priority",
    AgentFlag.IHR_ALWAYS_NOTIFIABLE: "always notifiable under the IHR",
    AgentFlag.ERADICATED: "eradicated worldwide",
}


def agent_flag_words(
    source: AgentFlags | Agent | Mapping[str, Any] | None,
    include: Sequence[AgentFlag] | frozenset[AgentFlag] = tuple(AgentFlag),
) -> list[str]:
    """The flags that hold, in words and in :class:`AgentFlag` order; only those in ``include``."""
    flags = AgentFlags.of(source)
    words: list[str] = []
    for flag in AgentFlag:
        if flag not in include:
            continue
        if flag is AgentFlag.SELECT_AGENT:
            if flags.select_agent:
                words.append(f"US select agent ({flags.select_agent})" + (", Tier 1" if flags.tier1 else ""))
        elif flag is AgentFlag.CDC_CATEGORY:
            if flags.cdc_category:
                words.append(f"CDC bioterrorism category {flags.cdc_category}")
        elif getattr(flags, flag.value):
            words.append(_WORDS[flag])
    return words
