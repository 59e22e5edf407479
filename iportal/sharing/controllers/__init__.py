"""Sharing over HTTP: the JSON API of client numbers and shared users (`_api`), and the
pages of people: "Client numbers" (`_client_numbers`) and "Shared users"
(`_shared_users`)."""

from litestar import Router

from iportal.sharing.controllers import _api, _client_numbers, _shared_users
from iportal.web.auth import LOGIN_GATE, PERSON

# The pages sit behind the login gate; the API answers 401 by itself (`USER`).
pages = Router(
    path="/",
    guards=LOGIN_GATE,
    dependencies=PERSON,
    route_handlers=[*_client_numbers.HANDLERS, *_shared_users.HANDLERS],
)

router = Router(path="/", route_handlers=[*_api.HANDLERS, pages])

__all__ = ["router"]
