"""The sandbox page answers its own tab only.

Any other web site open in the same browser can send requests to the page's address. A "simple"
cross-site POST (a form, or a `text/plain` fetch, which needs no CORS preflight) would run
commands as whoever the page is; and with DNS rebinding (a name of the attacker's that resolves
to 127.0.0.1) that site could also read every answer, `/api/state` included. So, as middleware
in front of every route:

- the `Host` header must be the address the page is served on, else 421: a rebound name is not;
- an `Origin` header, which browsers send on cross-site requests, must be the page's own, else 403;
- a request with a body is read only as `application/json`, else 415: no form, and no fetch
  without a preflight, can send that from another origin.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
BODYLESS = frozenset({hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS})


@dataclass(frozen=True)
class PageAddress:
    """Where the page is served: the host it was bound to and the port it got."""

    host: str
    port: int

    def admits(self, host_header: str) -> bool:
        """Whether a request's `Host` names this page."""
        name, port = _split(host_header.strip().lower())
        if port != self.port or not name:
            return False
        bound = self.host.lower()
        if bound in WILDCARDS:
            # Bound to every address: which one is "ours" is unknown, but an IP literal cannot
            # be a rebound name (only a DNS name can), and localhost is this machine.
            return name == "localhost" or _is_ip(name)
        if bound in LOOPBACK_NAMES:
            # The same loopback page, whichever of its two usual names the browser was given.
            return name in ("localhost", bound) or (bound == "localhost" and name == "127.0.0.1")
        return name == bound


def _split(host_header: str) -> tuple[str, int | None]:
    """`name:port` (or `[v6]:port`) as the name and the port; no port gives None."""
    if host_header.startswith("["):
        name, _, rest = host_header[1:].partition("]")
        port_text = rest.removeprefix(":") if rest.startswith(":") else ""
    else:
        name, _, port_text = host_header.rpartition(":") if ":" in host_header else (host_header, "", "")
    return name, int(port_text) if port_text.isdigit() else None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def refusal(request: web.Request, address: PageAddress | None) -> web.Response | None:
    """The 4xx for a request the page must not answer, or None to answer it."""
    host = request.headers.get(hdrs.HOST, "")
    if address is None or not address.admits(host):
        return web.Response(status=421, text="This is not the address the sandbox is served on.")
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is not None and origin.lower() != f"http://{host.strip().lower()}":
        return web.Response(status=403, text="Requests from other web pages are refused.")
    if request.method not in BODYLESS and request.content_type != "application/json":
        return web.Response(status=415, text="Send JSON, with Content-Type: application/json.")
    return None


def page_guard(address: Callable[[], PageAddress | None]) -> Middleware:
    """The middleware; `address` is read at each request, as the port is known once bound."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = refusal(request, address())
        if refused is not None:
            return refused
        return await handler(request)

    return guard


async def no_sniffing(_request: web.Request, response: web.StreamResponse) -> None:
    """Every answer is read as the type it says (an uploaded file is never run as a page)."""
    response.headers[hdrs.X_CONTENT_TYPE_OPTIONS] = "nosniff"
