"""Swagger UI and ReDoc served by the application itself: no CDN, so the docs work offline.

The JavaScript and CSS bundles come from the `fastapi-offline` package (pinned; they are plain
static files inside it). The two pages are static HTML whose only scripts are files under
`/docs-static/`: no inline script, so the docs' Content-Security-Policy allows scripts from
'self' only (see `DOCS_CSP` in service/kit/http/middleware.py).
"""

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

STATIC_URL = "/docs-static"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
_BUNDLES = files("fastapi_offline") / "static"
_OWN = files("service.kit.http") / "docs_static"

_SWAGGER_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{title}} - Swagger UI</title>
<link rel="icon" type="image/png" href="{STATIC_URL}/favicon.png">
<link rel="stylesheet" href="{STATIC_URL}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{{openapi_url}}"
     data-oauth2-redirect-url="{OAUTH2_REDIRECT_URL}"></div>
<script src="{STATIC_URL}/swagger-ui-bundle.js"></script>
<script src="{STATIC_URL}/own/swagger-init.js"></script>
</body>
</html>
"""

_REDOC_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{title}} - ReDoc</title>
<link rel="icon" type="image/png" href="{STATIC_URL}/favicon.png">
</head>
<body>
<div id="redoc" data-openapi-url="{{openapi_url}}"></div>
<script src="{STATIC_URL}/redoc.standalone.js"></script>
<script src="{STATIC_URL}/own/redoc-init.js"></script>
</body>
</html>
"""

_OAUTH2_REDIRECT_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Swagger UI: OAuth2 redirect</title></head>
<body><script src="{STATIC_URL}/own/oauth2-redirect.js"></script></body>
</html>
"""


def mount_docs(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve `/docs` (Swagger UI), `/redoc` and their assets from the installed packages."""
    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(f"{STATIC_URL}/own", StaticFiles(directory=str(_OWN)), name="docs-own")
    app.mount(STATIC_URL, StaticFiles(directory=str(_BUNDLES)), name="docs-static")
    swagger = _SWAGGER_PAGE.format(title=title, openapi_url=openapi_url)
    redoc = _REDOC_PAGE.format(title=title, openapi_url=openapi_url)

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui() -> Response:
        return HTMLResponse(swagger)

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> Response:
        return HTMLResponse(_OAUTH2_REDIRECT_PAGE)

    @app.get(redoc_url, include_in_schema=False)
    async def redoc_ui() -> Response:
        return HTMLResponse(redoc)
