"""``biotracker agents``: look up which regulatory and surveillance lists an agent or toxin is on."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from biotracker.scoring.risk.agents import Agent, UnknownAgentError, load_agents

agents_app = typer.Typer(
    name="agents",
    help=(
        "Agents and toxins of the law-enforcement lens: US select agent (HHS/USDA/overlap/PPQ) and Tier 1, "
        "CDC bioterrorism category, Australia Group, WOAH-listed, WHO R&D Blueprint priority, IHR always "
        "notifiable; each flag with its source list and version."
    ),
    no_args_is_help=True,
)

_COLUMNS = (
    ("select_agent", "Select agent"),
    ("tier1", "Tier 1"),
    ("cdc_category", "CDC"),
    ("australia_group", "AG"),
    ("woah_listed", "WOAH"),
    ("who_priority", "WHO"),
    ("ihr_always_notifiable", "IHR"),
)


#: Category columns: null means "on no category of this list", which is a determined answer.
_CATEGORY_FLAGS = frozenset({"select_agent", "cdc_category"})


def _cell(value: object, flag: str) -> str:
    """Three states on screen for yes/no flags: yes, no, and '?' for not determined (never silently 'no')."""
    if value is None:
        return "-" if flag in _CATEGORY_FLAGS else "?"
    if value is True:
        return "yes"
    if value is False:
        return "-"
    return str(getattr(value, "value", value))


def _table(agents: list[Agent], title: str) -> Table:
    table = Table(title=title, caption="'?' = not determined; see docs/RISK_LENS.md")
    table.add_column("Name")
    table.add_column("agent_id")
    for _, header in _COLUMNS:
        table.add_column(header)
    for agent in agents:
        table.add_row(agent.name, agent.agent_id or "", *(_cell(getattr(agent, f), f) for f, _ in _COLUMNS))
    return table


@agents_app.command("list")
def list_agents(
    as_json: bool = typer.Option(False, "--json", help="Print all agents as a JSON array."),
) -> None:
    """List every agent and toxin with its list memberships."""
    agents = list(load_agents())
    if as_json:
        typer.echo(json.dumps([a.to_json_dict() for a in agents], indent=2, ensure_ascii=False))
        return
    Console().print(_table(agents, f"{len(agents)} agents and toxins"))


@agents_app.command("show")
def show_agent(
    name: str = typer.Argument(
        ..., help="Name, synonym or identifier, e.g. 'anthrax', 'FMDV', 'NCBITaxon:1392'."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the agent as a JSON object."),
) -> None:
    """Show one agent: every flag, the list version behind it, and the citations."""
    try:
        agent = load_agents().lookup(name)
    except UnknownAgentError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc
    if as_json:
        typer.echo(json.dumps(agent.to_json_dict(), indent=2, ensure_ascii=False))
        return
    console = Console()
    console.print(_table([agent], agent.name))
    if agent.synonyms:
        console.print(f"Also known as: {', '.join(agent.synonyms)}")
    if agent.producer_taxon:
        console.print(f"Producer: {agent.producer_taxon}")
    if agent.eradicated:
        console.print("[bold]Eradicated worldwide[/bold]: any case is unnatural until shown otherwise.")
    if agent.notes:
        console.print(f"Notes: {agent.notes}")
    sources = Table(title="Sources")
    sources.add_column("Flag")
    sources.add_column("Citation")
    sources.add_column("Version")
    for flag, source in agent.sources.items():
        sources.add_row(flag, "; ".join(source.citations), "; ".join(source.versions))
    console.print(sources)


def register(app: typer.Typer) -> None:
    """Attach ``biotracker agents …`` to the main app."""
    app.add_typer(agents_app, name="agents")
