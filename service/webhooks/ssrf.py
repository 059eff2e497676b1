"""Where a webhook may point: http(s) URLs without credentials whose host resolves only to
public addresses, unless the host is listed in `WEBHOOK_ALLOWED_HOSTS`.

Checked at registration and again before every delivery (DNS may have changed); the delivery
then connects to the very address checked here (`Target.pinned_url`), so a second lookup cannot
swap it (DNS rebinding)."""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_TIMEOUT = 5.0


class Refused(ValueError):
    """The URL may not be delivered to; the message says why (it names no address)."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the one address deliveries connect to."""

    url: str
    host: str
    port: int
    address: IP

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address (the Host header and TLS SNI
        still name `host`)."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return parts._replace(netloc=f"{literal}:{self.port}").geturl()

    @property
    def host_header(self) -> str:
        parts = urlsplit(self.url)
        default = 443 if parts.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def parse(url: str) -> tuple[SplitResult, str, int]:
    """The URL's parts, its host (lower case, no brackets) and port; Refused if malformed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise Refused("The URL is not valid.") from error
    if parts.scheme not in ("http", "https"):
        raise Refused("Only http and https URLs are allowed.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise Refused("The URL may not carry credentials.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise Refused("The URL has no host.")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise Refused("The URL is not valid.")
    return parts, host, port or (443 if parts.scheme == "https" else 80)


def numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """`host` read as inet_aton reads it (`2130706433`, `0177.0.0.1`, `0x7f.1`), or None."""
    pieces = host.split(".")
    if not 1 <= len(pieces) <= 4:
        return None
    values: list[int] = []
    for piece in pieces:
        try:
            if piece.lower().startswith("0x"):
                values.append(int(piece[2:] or "0", 16))
            elif len(piece) > 1 and piece.startswith("0"):
                values.append(int(piece, 8))
            else:
                values.append(int(piece, 10) if piece.isdigit() else -1)
        except ValueError:
            return None
    if any(v < 0 for v in values):
        return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = 0
    for value in head:
        number = number * 256 + value
    return ipaddress.IPv4Address(number * 256 ** (5 - len(values)) + last)


def literal(host: str) -> IP | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return numeric_ipv4(host)


def forbidden(address: IP) -> bool:
    """Private, loopback, link-local, multicast, reserved, unspecified or otherwise not global;
    an IPv6 address that embeds an IPv4 one (mapped, 6to4, Teredo) is judged by both."""
    embedded: list[IP] = []
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
        if address.teredo is not None:
            embedded += list(address.teredo)
    return any(
        not a.is_global
        or a.is_private
        or a.is_loopback
        or a.is_link_local
        or a.is_multicast
        or a.is_reserved
        or a.is_unspecified
        for a in (address, *embedded)
    )


async def resolve(host: str, port: int) -> list[IP]:
    address = literal(host)
    if address is not None:
        return [address]
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError) as error:
        raise Refused("The host does not resolve.") from error
    addresses: list[IP] = []
    for *_, sockaddr in found:
        parsed = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if parsed not in addresses:
            addresses.append(parsed)
    if not addresses:
        raise Refused("The host does not resolve.")
    return addresses


async def check(url: str, allowed_hosts: list[str]) -> Target:
    """The target `url` may be delivered to, or Refused."""
    _, host, port = parse(url)
    addresses = await resolve(host.lower(), port)
    allowed = set(allowed_hosts)
    if host.lower() not in allowed:
        bad = [a for a in addresses if forbidden(a) and str(a) not in allowed]
        if bad:
            raise Refused(
                "The URL points to a private, loopback, link-local or otherwise reserved address."
            )
    return Target(url, host, port, addresses[0])
