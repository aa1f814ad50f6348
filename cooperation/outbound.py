"""Every request LibCoop makes to another server — a webhook's delivery, a partner's IIIF stream, a paired instance —
goes through this one client, on one HTTP library (httpx2, the one authlib's sign-in client uses too):

- the address is resolved once, and every address the name resolves to must be public (not loopback, private,
  link-local, shared or reserved) unless COOP_OUTBOUND_ALLOW names its network: an administrator's webhook address is
  no port scanner for the library's own network, nor a way to the cloud's metadata service;
- the request then goes to the address that was checked, never to a second resolution of the name (which could
  answer otherwise: DNS rebinding); the name stays in the Host header and in TLS (SNI, the certificate's name);
- no redirect is followed and no proxy is taken from the environment;
- the whole exchange (connecting, sending, reading every byte) has one deadline, not a timeout per read, and an
  answer a size limit: a server that sends a byte every few seconds holds nobody longer than that deadline.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2 as httpx

from cooperation import i18n
from cooperation.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolve = Callable[[str, int], Awaitable[list[str]]]


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses a name resolves to, in the resolver's order (each once)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


resolve: Resolve = system_resolve  # the tests put a resolver they control here


class OutboundError(Exception):
    """Why a request was not made, or not answered: a sentence for the page that shows it."""


class Refused(OutboundError):
    """Never attempted: not an http(s) address, a name that does not resolve, or an address that is not public."""


class Unreachable(OutboundError):
    """Attempted, and no whole answer came: no connection, the deadline passed, or the answer was too long."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Any  # the answer's headers (case-insensitive)


@dataclass(frozen=True)
class Target:
    """Where a request really goes: the checked address in place of the name, which stays for Host and TLS."""

    url: str
    host: str  # the Host header: the name (and port) as the address gave them
    server_name: str | None  # for TLS: the name the certificate must carry (None for plain http or an address literal)
    address: str


def allowed_networks(settings: Settings) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in settings.outbound_allowed)


async def target(url: str, allowed: tuple[Network, ...]) -> Target:
    """Check an address before anything is sent to it (a webhook's, at registration too): the address to connect to."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1 or "@" in parts.netloc:
        raise Refused(i18n.gettext("%(url)s is not an http(s) address", url=url[:200]))
    name = parts.hostname
    try:
        addresses = [str(ipaddress.ip_address(name))]
        literal = True
    except ValueError:
        literal = False
        try:
            addresses = await resolve(name, port or (443 if parts.scheme == "https" else 80))
        except (OSError, UnicodeError):
            addresses = []
        if not addresses:
            raise Refused(i18n.gettext("%(host)s cannot be resolved", host=name)) from None
    for each in addresses:
        address = ipaddress.ip_address(each)
        if not (address.is_global or any(address in network for network in allowed)):
            raise Refused(
                i18n.gettext(
                    "%(host)s is a private or local address (%(address)s): refused unless the administrator allows its network",
                    host=name,
                    address=str(address),
                )
            )
    chosen = ipaddress.ip_address(addresses[0])
    netloc = (f"[{chosen}]" if chosen.version == 6 else str(chosen)) + (f":{port}" if port else "")
    return Target(
        url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        host=parts.netloc,
        server_name=name if parts.scheme == "https" and not literal else None,
        address=str(chosen),
    )


class Client:
    """One outbound conversation (a round of webhook deliveries, a harvest, a pairing): its connections, its policy."""

    def __init__(self, settings: Settings, *, deadline: float = 15.0, max_bytes: int = 1_000_000) -> None:
        self.allowed = allowed_networks(settings)
        self.deadline, self.max_bytes = deadline, max_bytes
        self._http = httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=httpx.Timeout(deadline))

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        deadline: float | None = None,
        max_bytes: int | None = None,
    ) -> Answer:
        """One exchange, whole within `deadline` seconds (the client's by default), its answer at most `max_bytes`."""
        goal = await target(url, self.allowed)
        limit, seconds = max_bytes or self.max_bytes, self.deadline if deadline is None else max(deadline, 0.0)
        extensions = {"sni_hostname": goal.server_name} if goal.server_name else {}
        try:
            async with asyncio.timeout(seconds):
                request = self._http.build_request(method, goal.url, content=content, headers={**(headers or {}), "host": goal.host})
                request.extensions.update(extensions)
                response = await self._http.send(request, stream=True)
                try:
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise Unreachable(i18n.gettext("%(host)s answered more than %(n)s bytes", host=goal.host, n=f"{limit:,}"))
                        chunks.append(chunk)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise Unreachable(i18n.gettext("%(host)s did not answer within %(n)s seconds", host=goal.host, n=f"{seconds:g}")) from None
        except httpx.HTTPError as exc:
            raise Unreachable(i18n.gettext("%(host)s cannot be reached: %(error)s", host=goal.host, error=type(exc).__name__)) from exc
        return Answer(response.status_code, b"".join(chunks), response.headers)
