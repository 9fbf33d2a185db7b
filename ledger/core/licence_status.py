"""What an asset's licence is at any time, from its lifecycle statements alone.

The answer is a function of the set of statements: they are deduplicated by digest and
replayed in one canonical order (``issuedAt``, then digest), each kept or dropped by
the rules below, so whoever replays the same anchored statements, in whatever order
they arrived, reaches the same status. docs/lifecycle.md has the rules as a table;
tests/unit/core/test_licence_status.py checks them and that invariance.

Times are milliseconds since the Unix epoch. A statement counts from its ``issuedAt``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from ledger.core.hashing import to_hex
from ledger.core.statements import (
    AMEND,
    ANSWER,
    DECISION,
    GRANT,
    REVOKE,
    TAKEDOWN,
    UPHELD,
    WITHDRAW,
    Statement,
)
from ledger.errors import ValidationError

#: The notice a revocation must give when the asset's licences declare none: the
#: field's own example clause ("revocation_notice": "30 days").
DEFAULT_NOTICE_MS = 30 * 24 * 60 * 60 * 1000

LICENSABLE, NOTICE, EXCLUSIVE = "licensable", "notice", "exclusive"
DISPUTED, REVOKED, TAKEN_DOWN, WITHDRAWN = "disputed", "revoked", "taken-down", "withdrawn"
STATES = (LICENSABLE, NOTICE, EXCLUSIVE, DISPUTED, REVOKED, TAKEN_DOWN, WITHDRAWN)


def notice_ms(entry: Any) -> int:
    """The notice a revocation of asset `entry` (a valid entry's JSON object) must give:
    the longest ``revocationNotice`` its licences declare (format 1.2), else
    `DEFAULT_NOTICE_MS`. The longest, because a revocation ends every licence at once."""
    declared = [licence["revocationNotice"] for licence in entry["licenses"]
                if isinstance(licence, dict) and "revocationNotice" in licence]
    return max(declared) * 1000 if declared else DEFAULT_NOTICE_MS


@dataclass(frozen=True)
class AssetRef:
    """One asset, and the revocation notice its licences declared (or the default)."""

    manifest_digest: bytes
    asset_id: str
    notice_ms: int = DEFAULT_NOTICE_MS


@dataclass(frozen=True)
class Status:
    """The asset at one time: ``state`` (one of `STATES`), since when, until when (a
    notice's end, an exclusivity's end), the exclusive buyer, and the statement that
    decided it. ``notice_until`` is set whenever a revocation is pending, whatever the
    state shown; ``disputed`` whenever a takedown case is open."""

    state: str
    since: int | None = None
    until: int | None = None
    buyer: str | None = None
    statement: bytes | None = None
    notice_until: int | None = None
    disputed: bool = False

    def to_obj(self) -> dict[str, Any]:
        """The status as the HTTP API and ``ledger status --json`` show it."""
        return {
            "state": self.state, "since": self.since, "until": self.until,
            "buyer": self.buyer,
            "statement": None if self.statement is None else to_hex(self.statement),
            "noticeUntil": self.notice_until, "disputed": self.disputed,
        }


@dataclass(frozen=True)
class Refusal:
    """Why usage at a time is refused, naming the statement that refuses it."""

    reason: str
    statement: bytes


class History:
    """The statements about one asset, replayed: `valid` in canonical order, and why each
    of the others was `dropped` (digest -> reason)."""

    def __init__(self, asset: AssetRef, statements: Iterable[Statement]) -> None:
        self.asset = asset
        unique = {s.digest(): s for s in statements
                  if s.target.covers(asset.manifest_digest, asset.asset_id)}
        self.valid: list[Statement] = []
        self.dropped: dict[bytes, str] = {}
        for digest, statement in sorted(unique.items(), key=lambda i: (i[1].issued_at, i[0])):
            reason = self._invalid(statement)
            if reason is None:
                self.valid.append(statement)
            else:
                self.dropped[digest] = reason

    # -- the rules ---------------------------------------------------------------------

    def _invalid(self, s: Statement) -> str | None:
        """Why `s` does not count given the statements kept before it, or None."""
        if s.type == REVOKE:
            return self._invalid_revoke(s)
        if s.type == AMEND:
            assert s.effective_at is not None
            return "effectiveAt is before issuedAt (backdated)" if (
                s.effective_at < s.issued_at) else None
        if s.type == GRANT:
            return self._invalid_grant(s)
        if s.type == WITHDRAW:
            first = self._first(WITHDRAW)
            return None if first is None else f"consent was withdrawn already by {_id(first)}"
        if s.type in (ANSWER, DECISION):
            return self._invalid_case(s)
        return None

    def _invalid_revoke(self, s: Statement) -> str | None:
        assert s.effective_at is not None
        earliest = s.issued_at + self.asset.notice_ms
        if s.effective_at < earliest:
            return (f"effectiveAt {s.effective_at} gives less than the licence's notice of "
                    f"{self.asset.notice_ms // 1000} s (earliest {earliest})")
        first = self._first(REVOKE)
        if first is not None:
            return f"the asset was revoked already by {_id(first)}"
        for grant in self._all(GRANT):
            assert grant.end is not None
            if grant.irrevocable and grant.end > s.effective_at:
                return (f"contradicts the irrevocable exclusive grant {_id(grant)}, which runs "
                        f"until {grant.end}")
        return None

    def _invalid_grant(self, s: Statement) -> str | None:
        assert s.start is not None and s.end is not None and s.licences is not None
        if s.start < s.issued_at:
            return "start is before issuedAt (backdated)"
        withdrawn = self._first(WITHDRAW)
        if withdrawn is not None:
            return f"consent was withdrawn by {_id(withdrawn)}"
        revoke = self._first(REVOKE)
        if revoke is not None and revoke.effective_at is not None and (
                s.end > revoke.effective_at):
            return f"runs past the revocation {_id(revoke)} effective at {revoke.effective_at}"
        for grant in self._all(GRANT):
            assert grant.start is not None and grant.end is not None
            assert grant.licences is not None
            if grant.start < s.end and s.start < grant.end and grant.licences & s.licences:
                return f"overlaps the exclusive grant {_id(grant)} to {grant.buyer}"
        return None

    def _invalid_case(self, s: Statement) -> str | None:
        claim = next((c for c in self._all(TAKEDOWN) if c.digest() == s.case), None)
        if claim is None:
            return "names no takedown case of this asset"
        if s.type == DECISION and any(d.case == s.case for d in self._all(DECISION)):
            return "the case was decided already"
        return None

    def _all(self, kind: str) -> list[Statement]:
        return [s for s in self.valid if s.type == kind]

    def _first(self, kind: str) -> Statement | None:
        return next((s for s in self.valid if s.type == kind), None)

    # -- the answers --------------------------------------------------------------------

    def status(self, at: int) -> Status:
        """The asset's status at time `at`."""
        known = [s for s in self.valid if s.issued_at <= at]
        revoke = next((s for s in known if s.type == REVOKE), None)
        notice = revoke.effective_at if revoke is not None else None
        disputes = self._open_cases(known)
        shown = self._shown(known, at, revoke, disputes)
        return replace(shown, notice_until=notice if notice is not None and at < notice else None,
                       disputed=bool(disputes))

    def _shown(self, known: list[Statement], at: int, revoke: Statement | None,
               disputes: list[Statement]) -> Status:
        """The state shown, by precedence: withdrawn, taken down, revoked, disputed,
        exclusive, notice, licensable."""
        withdrawn = next((s for s in known if s.type == WITHDRAW), None)
        if withdrawn is not None:
            return Status(WITHDRAWN, withdrawn.issued_at, statement=withdrawn.digest())
        upheld = next((s for s in known if s.type == DECISION and s.outcome == UPHELD), None)
        if upheld is not None:
            return Status(TAKEN_DOWN, upheld.issued_at, statement=upheld.digest())
        notice = revoke.effective_at if revoke is not None else None
        if revoke is not None and notice is not None and at >= notice:
            return Status(REVOKED, notice, statement=revoke.digest())
        if disputes:
            return Status(DISPUTED, disputes[0].issued_at, statement=disputes[0].digest())
        grant = self._grant_at(known, at)
        if grant is not None:
            return Status(EXCLUSIVE, grant.start, grant.end, grant.buyer, grant.digest())
        if revoke is not None:
            return Status(NOTICE, revoke.issued_at, notice, statement=revoke.digest())
        return Status(LICENSABLE)

    def refusal(self, buyer: str, at: int) -> Refusal | None:
        """Why `buyer`'s usage at time `at` must be refused, or None: after a withdrawal,
        an upheld takedown or an effective revocation, or during another buyer's
        exclusivity. A notice period or an open dispute does not refuse usage."""
        status = self.status(at)
        if status.state in (WITHDRAWN, TAKEN_DOWN, REVOKED):
            assert status.statement is not None
            return Refusal(f"the asset is {status.state} since {status.since} "
                           f"({_id_of(status.statement)})", status.statement)
        grant = self._grant_at([s for s in self.valid if s.issued_at <= at], at)
        if grant is not None and grant.buyer != buyer:
            return Refusal(f"the asset is licensed exclusively to {grant.buyer} until "
                           f"{grant.end} ({_id(grant)})", grant.digest())
        return None

    def terms_at(self, at: int) -> dict[str, Any]:
        """The amended terms in force at `at` (empty: the manifest's own): every valid
        amendment effective by then, applied in order of effective time."""
        amends = sorted((s for s in self.valid if s.type == AMEND and s.effective_at is not None
                         and s.effective_at <= at),
                        key=lambda s: (s.effective_at, s.issued_at, s.digest()))
        terms: dict[str, Any] = {}
        for amend in amends:
            terms.update(amend.terms or {})
        return terms

    def admit(self, statement: Statement) -> History:
        """The history with `statement` added, if it counts and changes nothing that
        counted before (a late statement may not rewrite what was already decided);
        ValidationError naming the conflict otherwise."""
        after = History(self.asset, [*self.valid, statement])
        digest = statement.digest()
        if digest in after.dropped:
            raise ValidationError(after.dropped[digest], field="statement")
        lost = {s.digest() for s in self.valid} - {s.digest() for s in after.valid}
        if lost:
            raise ValidationError(f"would void {_id_of(sorted(lost)[0])}, accepted before it",
                                  field="issuedAt")
        return after

    @staticmethod
    def _open_cases(known: list[Statement]) -> list[Statement]:
        decided = {s.case for s in known if s.type == DECISION}
        return [s for s in known if s.type == TAKEDOWN and s.digest() not in decided]

    @staticmethod
    def _grant_at(known: list[Statement], at: int) -> Statement | None:
        return next((s for s in known if s.type == GRANT and s.start is not None
                     and s.end is not None and s.start <= at < s.end), None)


def _id(statement: Statement) -> str:
    return _id_of(statement.digest())


def _id_of(digest: bytes) -> str:
    return f"statement {to_hex(digest)}"
