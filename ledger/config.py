"""Service settings: one validated object built from defaults, a TOML file, the
environment (``LEDGER_*``) and command-line flags, later sources winning.

A bad setting stops start-up with one `ConfigError` line naming the setting.
Secrets (the anchorer key) are read from a file or an environment variable and
kept out of ``repr`` so they never reach a log line.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from ledger.errors import ConfigError
from ledger.keyfile import load_account_key

ENV_PREFIX = "LEDGER_"

#: The body limits of the routes that read one (`HttpSettings.body_limit`).
BodyRoute = Literal["manifest", "batch", "usage", "small", "chunk"]


@dataclass(frozen=True)
class HttpSettings:
    """The HTTP layer's limits (docs/operations.md "Limits")."""

    max_body_bytes: int
    manifest_body_bytes: int
    usage_body_bytes: int
    small_body_bytes: int
    #: A 1.1 upload's chunk PUT: its own limit, not capped by `max_body_bytes`.
    chunk_body_bytes: int
    body_timeout_s: float
    idle_timeout_s: float
    batch_endpoint_max: int
    #: The operator's bearer token (docs/operations.md); None: no operator reads.
    admin_token: str | None = field(repr=False)
    #: How far a signed read's or a metering source's timestamp may stray from now.
    signed_window_s: float
    #: Reverse proxies in front whose ``X-Forwarded-For`` entries name the client
    #: (`ledger.api.client_address`); 0: the header is ignored.
    trusted_proxy_hops: int = 0

    def body_limit(self, route: BodyRoute) -> int:
        """The largest body `route` accepts: its own setting, never above `max_body_bytes`
        (which is the batch route's), but for a chunk PUT's (up to 16,384 assets)."""
        if route == "chunk":
            return self.chunk_body_bytes
        own = {"manifest": self.manifest_body_bytes, "usage": self.usage_body_bytes,
               "small": self.small_body_bytes}.get(route, self.max_body_bytes)
        return min(own, self.max_body_bytes)


@dataclass(frozen=True)
class AnchoringSettings:
    """How manifests are batched and how deep an anchor must be before it counts."""

    batch_max_size: int
    batch_max_age_s: float
    confirmations: int
    anchor_deadline_s: float
    #: How deep an anchor block must be before evidence packages point at it, and
    #: proofs are served as immutable: 0 is the node's `finalized` block.
    evidence_depth: int = 0

    @property
    def promise_ms(self) -> int:
        """How long after acceptance a manifest's batch is promised to be anchored."""
        return int((self.batch_max_age_s + self.anchor_deadline_s) * 1000)


@dataclass(frozen=True)
class WebhookSettings:
    """How webhooks are delivered (docs/lifecycle.md, "Notifications")."""

    #: Seconds a receiver has to answer one delivery.
    timeout_s: float
    #: Seconds an event is retried after its first failure before it is dead-lettered.
    retry_for_s: float
    #: The first retry's delay; each next one doubles, up to `backoff_max_s` (with jitter).
    backoff_s: float
    backoff_max_s: float
    #: Deliveries in flight at once, over all subscribers.
    concurrency: int
    #: Whether subscriptions may name loopback and private addresses ("any") or not
    #: ("public").
    urls: Literal["public", "any"]
    poll_interval_s: float


@dataclass(frozen=True)
class OlpSettings:
    """The RSL documents and the OLP licence server (docs/web-licensing.md)."""

    #: The service's public base URL: token issuer, and the root of every RSL link.
    public_url: str
    token_lifetime_s: int
    key_rotation_s: int
    #: Where an asset without a ``url`` is fetched: a URL with ``{sha256}``, or None.
    asset_url: str | None
    max_clients_per_wallet: int
    #: Client registrations a minute from one client address (in bursts of as many).
    register_per_minute: int


@dataclass(frozen=True)
class RoyaltySettings:
    """Usage intake (metering keys, the replay window, usage batches) and settlement."""

    usage_keys_file: Path | None
    usage_keys: str | None = field(repr=False)
    usage_window_s: float
    usage_batch_max_size: int
    usage_batch_max_age_s: float
    settle_interval_s: float
    settle_max_items: int


@dataclass(frozen=True)
class Settings:
    """Everything `ledger serve` needs; see docs/operations.md for each setting.

    Operators name settings flat (one TOML key, ``LEDGER_<NAME>`` variable or flag each);
    the composition root hands each part only its section (`http`, `anchoring`,
    `royalty`), never the whole object.
    """

    data_dir: Path = Path(".ledger")
    host: str = "127.0.0.1"
    port: int = 8710
    db_url: str | None = None
    rpc_url: str | None = None
    public_rpc_url: str | None = None
    anchorer_key_file: Path | None = None
    anchorer_key: str | None = field(default=None, repr=False)
    anchorer_signer: str | None = None
    deployment_file: Path | None = None
    batch_max_size: int = 10_000
    batch_max_age_s: float = 5.0
    confirmations: int = 2
    anchor_deadline_s: float = 300.0
    evidence_depth: int = 0
    stuck_tx_after_s: float = 30.0
    max_fee_gwei: float = 500.0
    poll_interval_s: float = 0.5
    rpc_timeout_s: float = 10.0
    max_body_bytes: int = 8 * 1024 * 1024
    # Abuse limits (docs/operations.md "Limits"): per-route body caps, slow-client timeouts.
    manifest_body_bytes: int = 1024 * 1024
    usage_body_bytes: int = 4 * 1024 * 1024
    small_body_bytes: int = 64 * 1024
    chunk_body_bytes: int = 32 * 1024 * 1024
    body_timeout_s: float = 30.0
    idle_timeout_s: float = 15.0
    admin_token: str | None = field(default=None, repr=False)
    batch_endpoint_max: int = 1_000
    trusted_proxy_hops: int = 0
    intake_workers: int | None = None
    serve_processes: int = 1
    anvil_block_time_s: float | None = None
    log_level: str = "info"
    # Royalties (docs/royalties.md): metering sources' HMAC keys, usage batching, settlement.
    usage_keys_file: Path | None = None
    usage_keys: str | None = field(default=None, repr=False)
    usage_window_s: float = 300.0
    usage_batch_max_size: int = 10_000
    usage_batch_max_age_s: float = 5.0
    settle_interval_s: float = 2.0
    settle_max_items: int = 200
    # Replicas (docs/operations.md): who may seal, anchor and settle, and for how long.
    replica_id: str | None = None
    lease_ttl_s: float = 10.0
    # Webhooks (docs/lifecycle.md, "Notifications"); webhook_urls defaults to "any" on
    # the embedded chain and to "public" on another.
    webhook_timeout_s: float = 15.0
    webhook_retry_for_s: float = 86_400.0
    webhook_backoff_s: float = 5.0
    webhook_backoff_max_s: float = 3_600.0
    webhook_concurrency: int = 16
    webhook_urls: str | None = None
    # Web licensing (docs/web-licensing.md): RSL documents and the OLP licence server.
    public_url: str | None = None
    olp_token_lifetime_s: int = 300
    olp_key_rotation_s: int = 86_400
    rsl_asset_url: str | None = None
    olp_max_clients_per_wallet: int = 10
    olp_register_per_minute: int = 10
    # Tests only: fetch domain ids' /.well-known/ledger-creator.json from this base URL
    # (http allowed) instead of https://<domain>; refused unless the chain is embedded.
    creator_domain_url: str | None = None

    @property
    def http(self) -> HttpSettings:
        """What the HTTP layer needs: limits and timeouts."""
        return HttpSettings(
            max_body_bytes=self.max_body_bytes, manifest_body_bytes=self.manifest_body_bytes,
            usage_body_bytes=self.usage_body_bytes, small_body_bytes=self.small_body_bytes,
            chunk_body_bytes=self.chunk_body_bytes, body_timeout_s=self.body_timeout_s,
            idle_timeout_s=self.idle_timeout_s,
            batch_endpoint_max=self.batch_endpoint_max, admin_token=self.admin_token,
            signed_window_s=self.usage_window_s, trusted_proxy_hops=self.trusted_proxy_hops,
        )

    @property
    def anchoring(self) -> AnchoringSettings:
        """What batching and anchoring promise and how they pace themselves."""
        return AnchoringSettings(
            batch_max_size=self.batch_max_size, batch_max_age_s=self.batch_max_age_s,
            confirmations=self.confirmations, anchor_deadline_s=self.anchor_deadline_s,
            evidence_depth=self.evidence_depth or self._local_evidence_depth(),
        )

    def _local_evidence_depth(self) -> int:
        """0 (the node's finalized block), except on the embedded chain: a local test
        chain, where nothing is final to anyone else and anvil's finalized block is 64
        blocks behind a head that moves only with transactions, so evidence would never
        be issued. There it is the anchors' confirmation depth."""
        return max(1, self.confirmations) if self.embedded_chain else 0

    @property
    def royalty(self) -> RoyaltySettings:
        """What usage intake and settlement need."""
        return RoyaltySettings(
            usage_keys_file=self.usage_keys_file, usage_keys=self.usage_keys,
            usage_window_s=self.usage_window_s, usage_batch_max_size=self.usage_batch_max_size,
            usage_batch_max_age_s=self.usage_batch_max_age_s,
            settle_interval_s=self.settle_interval_s, settle_max_items=self.settle_max_items,
        )

    @property
    def webhooks(self) -> WebhookSettings:
        """How webhooks are delivered."""
        urls = self.webhook_urls or ("any" if self.embedded_chain else "public")
        return WebhookSettings(
            timeout_s=self.webhook_timeout_s, retry_for_s=self.webhook_retry_for_s,
            backoff_s=self.webhook_backoff_s, backoff_max_s=self.webhook_backoff_max_s,
            concurrency=self.webhook_concurrency, urls="any" if urls == "any" else "public",
            poll_interval_s=min(self.poll_interval_s, 0.25),
        )

    @property
    def olp(self) -> OlpSettings:
        """What the RSL documents and the licence server need."""
        return OlpSettings(
            public_url=(self.public_url or f"http://{self.host}:{self.port}").rstrip("/"),
            token_lifetime_s=self.olp_token_lifetime_s, key_rotation_s=self.olp_key_rotation_s,
            asset_url=self.rsl_asset_url, max_clients_per_wallet=self.olp_max_clients_per_wallet,
            register_per_minute=self.olp_register_per_minute,
        )

    @property
    def embedded_chain(self) -> bool:
        """True when the service starts and owns its own anvil."""
        return self.rpc_url is None

    def database_url(self) -> str:
        """The SQLAlchemy async URL: the given one, else SQLite in the data dir."""
        if self.db_url:
            return self.db_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'ledger.db'}"

    def validate(self) -> Settings:
        """Return self, or raise ConfigError naming the first bad setting."""
        if not 0 <= self.port <= 65535:
            raise ConfigError("must be 0 (any free port) to 65535", field="port")
        _positive("batch_max_size", self.batch_max_size, upper=1_000_000)
        _positive("batch_max_age_s", self.batch_max_age_s)
        _positive("anchor_deadline_s", self.anchor_deadline_s)
        _positive("stuck_tx_after_s", self.stuck_tx_after_s)
        _positive("max_fee_gwei", self.max_fee_gwei)
        _positive("poll_interval_s", self.poll_interval_s)
        _positive("rpc_timeout_s", self.rpc_timeout_s, upper=300)
        _positive("max_body_bytes", self.max_body_bytes)
        for name in ("manifest_body_bytes", "usage_body_bytes", "small_body_bytes",
                     "chunk_body_bytes"):
            _positive(name, getattr(self, name))
        _positive("body_timeout_s", self.body_timeout_s, upper=3600)
        _positive("idle_timeout_s", self.idle_timeout_s, upper=3600)
        if self.admin_token is not None and len(self.admin_token) < 32:
            raise ConfigError("must be at least 32 characters", field="admin_token")
        _positive("batch_endpoint_max", self.batch_endpoint_max, upper=100_000)
        if self.intake_workers is not None and not 0 <= self.intake_workers <= 64:
            raise ConfigError("must be 0 (in the serving process) to 64", field="intake_workers")
        _positive("serve_processes", self.serve_processes, upper=64)
        _positive("usage_window_s", self.usage_window_s, upper=3600)
        _positive("usage_batch_max_size", self.usage_batch_max_size, upper=1_000_000)
        _positive("usage_batch_max_age_s", self.usage_batch_max_age_s)
        _positive("settle_interval_s", self.settle_interval_s)
        _positive("settle_max_items", self.settle_max_items, upper=1_000)
        _positive("lease_ttl_s", self.lease_ttl_s, upper=300)
        if self.replica_id is not None and not 0 < len(self.replica_id) <= 100:
            raise ConfigError("must be 1 to 100 characters", field="replica_id")
        if self.confirmations < 0:
            raise ConfigError("must be 0 or more", field="confirmations")
        if not 0 <= self.evidence_depth <= 1_000_000:
            raise ConfigError("must be 0 (the node's finalized block) to 1000000",
                              field="evidence_depth")
        if self.anchor_deadline_s <= self.batch_max_age_s:
            raise ConfigError("must exceed batch_max_age_s", field="anchor_deadline_s")
        if self.db_url and not self.db_url.startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        ):
            raise ConfigError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg://", field="db_url"
            )
        for name in ("rpc_url", "public_rpc_url"):
            url = getattr(self, name)
            if url and not url.startswith(("http://", "https://")):
                raise ConfigError("must be an http(s) URL", field=name)
        if self.rpc_url and not (
            self.anchorer_key or self.anchorer_key_file or self.anchorer_signer
        ):
            raise ConfigError(
                "an external chain needs anchorer_key_file, LEDGER_ANCHORER_KEY or "
                "anchorer_signer",
                field="anchorer_key",
            )
        if self.creator_domain_url is not None and not (
            self.embedded_chain and self.creator_domain_url.startswith(("http://", "https://"))
        ):
            raise ConfigError(
                "is for tests on the embedded chain only, and must be an http(s) URL",
                field="creator_domain_url",
            )
        for name in ("public_url", "rsl_asset_url"):
            url = getattr(self, name)
            if url and not url.startswith(("http://", "https://")):
                raise ConfigError("must be an http(s) URL", field=name)
        _positive("olp_token_lifetime_s", self.olp_token_lifetime_s, upper=86_400)
        if self.olp_key_rotation_s < self.olp_token_lifetime_s:
            raise ConfigError("must be at least olp_token_lifetime_s", field="olp_key_rotation_s")
        _positive("olp_max_clients_per_wallet", self.olp_max_clients_per_wallet, upper=10_000)
        _positive("olp_register_per_minute", self.olp_register_per_minute, upper=100_000)
        if not 0 <= self.trusted_proxy_hops <= 10:
            raise ConfigError("must be 0 to 10", field="trusted_proxy_hops")
        _positive("webhook_timeout_s", self.webhook_timeout_s, upper=300)
        _positive("webhook_retry_for_s", self.webhook_retry_for_s)
        _positive("webhook_backoff_s", self.webhook_backoff_s)
        _positive("webhook_backoff_max_s", self.webhook_backoff_max_s)
        _positive("webhook_concurrency", self.webhook_concurrency, upper=1_000)
        if self.webhook_urls not in (None, "public", "any"):
            raise ConfigError("must be public or any", field="webhook_urls")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ConfigError("must be debug, info, warning or error", field="log_level")
        return self

    def read_anchorer_key(self) -> str | None:
        """The anchorer's private key (hex), from the environment or its key file
        (0600; hex or `ledger keygen --type eth` JSON)."""
        if self.anchorer_key:
            return self.anchorer_key.strip()
        if self.anchorer_key_file is None:
            return None
        return load_account_key(self.anchorer_key_file, field="anchorer_key_file")


def _positive(name: str, value: float, *, upper: float | None = None) -> None:
    if value <= 0:
        raise ConfigError("must be greater than 0", field=name)
    if upper is not None and value > upper:
        raise ConfigError(f"must be at most {upper}", field=name)


def load_settings(
    *,
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build and validate settings from a TOML file, ``LEDGER_*`` variables and flags."""
    values: dict[str, Any] = {}
    if file is not None:
        values.update(_read_toml(file))
    values.update(_from_env(os.environ if env is None else env))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return _coerce(values).validate()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", field="config") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", field="config") from exc
    return dict(data.get("ledger", data))


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    names = {f.name for f in fields(Settings)}
    out: dict[str, Any] = {}
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX) :].lower()
            if name in names:
                out[name] = value
    return out


def _coerce(values: Mapping[str, Any]) -> Settings:
    known = {f.name: f for f in fields(Settings)}
    kwargs: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in known:
            raise ConfigError("unknown setting", field=name)
        kwargs[name] = _convert(name, str(known[name].type), raw)
    return replace(Settings(), **kwargs)


def _convert(name: str, type_name: str, raw: Any) -> Any:
    try:
        if type_name.startswith("Path"):
            return Path(raw)
        if type_name.startswith("int"):
            return int(raw)
        if type_name.startswith("float"):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot read {raw!r} as {type_name}", field=name) from exc
