"""The batch lookup's request (POST /v1/assets/by-hash:batch): the files whose
registrations are asked about, and how many one request may name."""

from __future__ import annotations

from typing import Any

from ledger.core.fields import Fields

#: Hashes one batch lookup may ask about: each answer carries whole registrations.
MAX_LOOKUP = 1000


def lookup_hashes(obj: Any) -> tuple[bytes, ...]:
    """The content hashes of ``{"hashes": [sha256 hex, ...]}`` (1 to `MAX_LOOKUP`, bare or
    ``sha256:``), in order; ValidationError names the member at fault."""
    fields = Fields.of_object(obj, allowed={"hashes"}, required=("hashes",))
    return fields.content_hashes("hashes", MAX_LOOKUP)
