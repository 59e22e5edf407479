"""create_app(settings): wiring only — each domain's router, templates, errors, hooks."""

from __future__ import annotations

from collections.abc import Sequence

from litestar import Litestar, Router
from litestar.config.response_cache import ResponseCacheConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig

from iportal import __version__, db
from iportal.accounts.controllers import router as accounts_router
from iportal.documents.controllers import router as documents_router
from iportal.documents.sandbox import sandbox_lifespan
from iportal.notifications.controllers import router as notifications_router
from iportal.settings import Settings
from iportal.sharing.controllers import router as sharing_router
from iportal.sharing.handover.controllers import router as handover_router
from iportal.templating import environment
from iportal.web import openapi
from iportal.web.context import before_request
from iportal.web.controllers import router as web_router
from iportal.web.errors import EXCEPTION_HANDLERS
from iportal.web.headers import add_security_headers
from iportal.web.inputs import check_input
from iportal.web.requestlog import RequestLogMiddleware


def create_app(
    settings: Settings, *, manage_pool: bool = True, extra_routers: Sequence[Router] = ()
) -> Litestar:
    """The web app and JSON API. `manage_pool=False` lets tests own the connection pool;
    `extra_routers` is how `iportal demo` adds its mailbox page (the product never
    imports the demo)."""
    routers = [
        web_router,
        accounts_router,
        sharing_router,
        handover_router,
        documents_router,
        notifications_router,
        *extra_routers,
    ]
    app = Litestar(
        route_handlers=routers,
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment())),
        openapi_config=OpenAPIConfig(
            title="iportal",
            version=__version__,
            path="/schema",
            description="Invoice distribution and document portal: issuer and client API.",
            components=openapi.components(),
            # The document itself, at /schema too: the HTML viewers load scripts from a
            # CDN, which would run on the portal's origin (and break its CSP).
            render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"]), YamlRenderPlugin()],
        ),
        guards=[check_input],  # before every other guard: bad input never reaches a service
        before_request=before_request,
        before_send=[add_security_headers],
        exception_handlers=EXCEPTION_HANDLERS,
        on_startup=[db.on_app_startup] if manage_pool else [],
        on_shutdown=[db.on_app_shutdown] if manage_pool else [],
        lifespan=[sandbox_lifespan],
        request_max_body_size=settings.max_upload_bytes + 1024 * 1024,
        response_cache_config=ResponseCacheConfig(),
        logging_config=None,
        debug=False,
    )
    app.state.settings = settings
    openapi.document_errors(app)
    # Around the whole handler rather than as route middleware, which a path no route
    # matches (404) or a method none takes (405) never reaches: every answer gets its
    # request id and its log line.
    app.asgi_handler = RequestLogMiddleware(app.asgi_handler)
    return app
