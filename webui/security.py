"""Browser-facing protections of every response: the security headers and the session cookie's flags."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from workflows.settings import SettingsError, WebSettings

# Scripts and styles come from this server's /static only: no inline <script>, <style>, style="..." or
# on*= handlers anywhere in webui/templates (tests/webui/test_security_headers.py checks the templates,
# tests/e2e/test_csp.py checks the pages in chromium). What the vendored libraries need beyond that:
# - img-src data: the favicon is `data:,` (no request), and Swagger UI draws its icons as data: SVG
#   images, from its stylesheet and from its bundle.
# - font-src data: bpmn-js's bpmn-embedded.css carries the bpmn icon font (palette, context pad) inline.
# Scripts setting element.style (bpmn-js, Swagger UI's React) are not inline styles: CSP allows them.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
SWITCH_VALUES = {"true": True, "false": False, "auto": False}  # "auto" is true only under serve --workers


def register(app: Flask, web: WebSettings) -> None:
    """Session cookie flags, the proxy switch and the security headers, from the [web] settings.

    Raises:
        SettingsError: secure_cookie is not "true", "false" or "auto", or behind_proxy not that or a count.
    """
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=switch(web, "secure_cookie"),
    )
    hops = proxy_hops(web)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def switch(web: WebSettings, key: str) -> bool:
    """The value of a "true"/"false"/"auto" key of [web]; `serve --workers` has turned "auto" into "true".

    Raises:
        SettingsError: any other value.
    """
    value = str(getattr(web, key)).strip().lower()
    if value not in SWITCH_VALUES:
        raise SettingsError(f'[web] {key} must be "true", "false" or "auto", got {getattr(web, key)!r}')
    return SWITCH_VALUES[value]


def proxy_hops(web: WebSettings) -> int:
    """How many proxies in a row ([web] behind_proxy) set X-Forwarded-For/-Proto: "true" is one, "false"
    none, "2" a CDN or load balancer in front of nginx. Trusting fewer hops than there are makes every
    client one address (the outer proxy's), so 20 failed logins from anyone lock everyone out.

    Raises:
        SettingsError: neither a switch value nor a count from 1 to 9.
    """
    value = str(web.behind_proxy).strip()
    if value.isdigit() and 1 <= int(value) <= 9:
        return int(value)
    try:
        return 1 if switch(web, "behind_proxy") else 0
    except SettingsError:
        raise SettingsError(
            f'[web] behind_proxy must be "true", "false", "auto" or a number of proxies in a row (1 to 9), '
            f"got {web.behind_proxy!r}"
        ) from None


def for_workers(web: WebSettings) -> dict[str, str]:
    """The [web] keys that `serve --workers` turns from "auto" to "true" (it runs behind an HTTPS proxy)."""
    return {key: "true" for key in ("secure_cookie", "behind_proxy") if getattr(web, key) == "auto"}
