"""What a member organisation sends to contribute a report (``POST /api/v1/reports``).

The server validates requests with :class:`Contribution` before it stores anything, and the
``contributions`` connector validates the archived items with it again, so both apply one rule set.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from biotracker.schema.tlp import Tlp

#: The marking a contribution gets when the contributor chooses none.
DEFAULT_MARKING = Tlp.AMBER_STRICT


class Contribution(BaseModel):
    """One contributed report as the contributor sends it (the API validates requests with it)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=500)
    text: str = Field(default="", max_length=100_000)
    summary: str = Field(default="", max_length=5_000)
    country_iso3: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    reported_at: AwareDatetime
    tlp: str = DEFAULT_MARKING.value
    share_with: list[str] = Field(default_factory=list, max_length=100)
    share_users: list[str] = Field(default_factory=list, max_length=100)
    url: str | None = Field(default=None, max_length=2_000, pattern=r"^https?://")
    disease: str | None = Field(default=None, max_length=200)
    pathogen: str | None = Field(default=None, max_length=200)
    host: str | None = Field(default=None, max_length=100)
    admin_area: str | None = Field(default=None, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    cases: int | None = Field(default=None, ge=0)
    deaths: int | None = Field(default=None, ge=0)

    @field_validator("country_iso3")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        import pycountry  # imported here: pycountry reads its environment when imported

        if value is not None and pycountry.countries.get(alpha_3=value) is None:
            raise ValueError(f"{value!r} is not an ISO 3166 alpha-3 country code")
        return value

    @field_validator("tlp")
    @classmethod
    def _tlp(cls, value: str) -> str:
        return Tlp.parse(value).value

    @model_validator(mode="after")
    def _share_lists_fit_the_marking(self) -> Contribution:
        marking = Tlp(self.tlp)
        if self.share_with and marking is not Tlp.AMBER:
            raise ValueError(
                f"share_with names organisations for TLP:AMBER only; TLP:{marking.value} is not shared by "
                "organisation (use AMBER, or leave share_with empty)"
            )
        if self.share_users and marking is not Tlp.RED:
            raise ValueError("share_users names users for TLP:RED only; leave it empty for other markings")
        return self
