"""The site's public address: what QR codes and links sent out point at.

A venue screen is often opened on the projector's laptop at http://127.0.0.1 or at an internal name;
the phones in the room must reach the address in the QR code, so it comes from LECTUREHUB_PUBLIC_URL
when that is set and never from the Host header of the request that drew the screen.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import current_app, request, url_for
from flask_babel import gettext as _


def public_url_for(endpoint: str, **values) -> str:
    """An absolute URL for `endpoint` on the public address (or, unset, the address of this request)."""
    public = current_app.config.get("PUBLIC_URL")
    if not public:
        return url_for(endpoint, _external=True, **values)
    return public + url_for(endpoint, **values)


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8, ::1 or 0.0.0.0: an address a phone cannot reach this server at."""
    host = (host or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def link_warning(link: str) -> str | None:
    """Why phones might not reach `link` (a QR code's target), for the person showing it; None if fine."""
    host = urlsplit(link).hostname or ""
    public = current_app.config.get("PUBLIC_URL")
    if is_loopback_host(host):
        return _("The QR code points at %(host)s, an address only this computer can reach: phones cannot open "
                 "it. Set LECTUREHUB_PUBLIC_URL to the site's public address, or open this screen at that address.",
                 host=host)
    if not public:
        return _("The site's public address (LECTUREHUB_PUBLIC_URL) is not set, so the QR code points at %(host)s, "
                 "the address this screen was opened at. Check that phones in the room can open it.", host=host)
    opened_at = urlsplit("//" + request.host).hostname or ""
    if opened_at != host.lower():
        return _("This screen was opened at %(opened)s, not at the site's public address %(host)s, which the QR "
                 "code points at. Check that phones in the room can open %(host)s.", opened=opened_at, host=host)
    return None
