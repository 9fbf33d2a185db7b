"""The verdict on an evidence package: its steps, what they proved, and the one plain
statement a non-engineer reads (`ledger verify`, the verifier page and the tests print
the same words). `ledger.core.evidence_check` produces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.core.creators import DOMAIN, KEY, verification_method
from ledger.core.times import iso_utc

#: The steps in the order they run; the CLI, the page and the tamper tests name them.
STEPS = ("file", "asset", "manifest", "creator", "licence", "receipt", "batch", "registry",
         "anchor", "block")


@dataclass(frozen=True)
class Step:
    """One checked link: ``ok`` True (passed), False (failed) or None (not checked)."""

    name: str
    ok: bool | None
    detail: str


@dataclass(frozen=True)
class Verdict:
    """The outcome: verified only when every step that ran passed and the chain was
    checked against a trusted block hash. ``facts`` holds what was proven."""

    ok: bool
    steps: tuple[Step, ...]
    statement: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> Step | None:
        """The first failed step, if any."""
        return next((step for step in self.steps if step.ok is False), None)

    def to_obj(self) -> dict[str, Any]:
        """The machine-readable verdict (``ledger verify --json``)."""
        return {
            "verified": self.ok,
            "statement": self.statement,
            "steps": [{"step": s.name, "ok": s.ok, "detail": s.detail} for s in self.steps],
            "facts": self.facts,
        }


def statement_of(facts: Mapping[str, Any]) -> str:
    """The plain statement of a verified package's `facts`."""
    name = facts["file"] or facts["assetId"]
    licences = facts["licences"]
    licence = ("licence " if len(licences) == 1 else "licences ") + ", ".join(licences)
    return (f"{name} (sha256 {facts['sha256']}) was registered by {facts['creatorId']}, key "
            f"{facts['signingKey']}, {licence}, in a manifest anchored on chain "
            f"{facts['chainId']} in block {facts['anchorBlock']} at {facts['anchoredAtUtc']} "
            f"(no later than that time). {_status_sentence(facts)}")


def binding_of(creator_id: str) -> str:
    """How the creator id is bound to its holder, as the verdict says it."""
    method = verification_method(creator_id)
    if method == KEY:
        return "the id is derived from its first key, checked here"
    if method == DOMAIN:
        return "the id's domain vouched for the key at the service; not provable here"
    return "the id was approved by the service's operator; not provable here"


def _status_sentence(facts: Mapping[str, Any]) -> str:
    status = facts["licenceStatus"]
    state = status["state"]
    when = [f"since {iso_utc(status['since'] // 1000)}" if status["since"] is not None else "",
            f"until {iso_utc(status['until'] // 1000)}" if status["until"] is not None else "",
            f"to {status['buyer']}" if status["buyer"] else ""]
    detail = " ".join(part for part in when if part)
    return (f"At block {facts['provenBlock']} ({facts['statusAtUtc']}) its licence is {state}"
            f"{' ' + detail if detail else ''}, by the {facts['statements']} lifecycle "
            "statement(s) in the package.")
