"""Documents over HTTP: the issuer's API, the reader's API and the documents page."""

from litestar import Router

from iportal.documents.controllers._api import api_router
from iportal.documents.controllers._issuer_api import issuer_router
from iportal.documents.controllers._page import page_router

router = Router(path="/", route_handlers=[issuer_router, api_router, page_router])

__all__ = ["router"]
