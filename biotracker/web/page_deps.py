"""The dependency annotation the pages' route functions take (``who: PageCaller``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from biotracker.server.auth import Caller
from biotracker.web.render import page_caller

#: The session's caller, or a redirect to the login form (CSRF checked on state-changing posts).
PageCaller = Annotated[Caller, Depends(page_caller)]
