"""pyld, imported without its network document loaders (``vc.jsonld`` imports this first).

At import, pyld makes a default document loader from ``requests`` (else ``aiohttp``).  We never
load a JSON-LD document from the network — every call passes the static loader over the
bundled contexts (DESIGN.md §4) — so while pyld is imported both are made unimportable: pyld
falls back to its loader that refuses every URL, and a verifier's start does not pay for
importing requests and urllib3 (tens of milliseconds).  Afterwards they import normally for
whoever needs them.
"""

from __future__ import annotations

import importlib
import sys


def import_pyld_offline() -> None:
    if "pyld.jsonld" in sys.modules:
        return
    blocked = [name for name in ("requests", "aiohttp") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # "import requests" → ImportError
    try:
        importlib.import_module("pyld.jsonld")
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


import_pyld_offline()
