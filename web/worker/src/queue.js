// The durable usage queue: one Durable Object on SQLite storage. A licensed fetch's
// event is written here before the fetch is answered; an alarm sends the events in
// batches to the ledger and deletes each only once the ledger has answered for it.
import { DurableObject } from "cloudflare:workers";
import { settings } from "./settings.js";
import { usageHeaders } from "./usage.js";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS refused (id TEXT PRIMARY KEY, body TEXT NOT NULL, status INTEGER NOT NULL, code TEXT, at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS holds (key TEXT PRIMARY KEY, kind TEXT NOT NULL, until INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS keys (id INTEGER PRIMARY KEY CHECK (id = 1), jwks TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, since INTEGER NOT NULL);
`;

/** The ledger's refusals that hold further fetches, and what the edge answers them. */
const HOLDS = { buyer_withdrawing: "unpaid", licence_refused: "refused" };

const useKey = (event) => `${event.buyer}/${event.asset.manifestDigest}/${event.asset.assetId}`;

const json = (obj) => new Response(JSON.stringify(obj), { headers: { "Content-Type": "application/json" } });

export class UsageQueue extends DurableObject {
  constructor(state, env) {
    super(state, env);
    this.storage = state.storage;
    this.sql = state.storage.sql;
    this.env = env;
    this.settings = settings(env).queue;
    this.sql.exec(SCHEMA);
    this.queued = this.sql.exec("SELECT COUNT(*) AS n FROM events").one().n;
    this.alarmSet = false;  // known only after the first append reads it
    this.pending = [];
    this.group = null;
  }

  /** The licence server's last key set (JSON text), kept for a restart during an outage. */
  keys() {
    return this.sql.exec("SELECT jwks FROM keys").toArray()[0]?.jwks ?? null;
  }

  saveKeys(jwks) {
    this.sql.exec("INSERT OR REPLACE INTO keys (id, jwks) VALUES (1, ?)", jwks);
  }

  /** Note the usage queue `name` (RPC; kept by the queue named "usage" for the
   * operator's view, since with QUEUE_SPLIT=colo nothing else lists the locations'). */
  register(name) {
    this.sql.exec("INSERT OR IGNORE INTO queues (name, since) VALUES (?, ?)", name, Date.now());
  }

  /** The names `register` noted, in order. */
  queueNames() {
    return this.sql.exec("SELECT name FROM queues ORDER BY name").toArray().map((row) => row.name);
  }

  /** The queue's counts and its latest refusals, for the operator and the tests (the
   * Worker never routes a request here). */
  async fetch() {
    return json(this.stats());
  }

  /**
   * Store one event (RPC from the Worker): "queued", or why the fetch must be refused
   * ("unpaid", "refused": a hold, below; "full"). The write is durable before the
   * answer leaves the object.
   */
  async append(event) {
    const hold = this.held(event);
    if (hold !== "clear") return hold;
    if (this.queued + this.pending.length >= this.settings.limit) return "full";
    this.pending.push(event);
    // Group commit: the appends that arrive while this turn runs share one transaction
    // (one disk sync), which is what lets one object take hundreds of fetches a second.
    this.group ??= new Promise((resolve) => setTimeout(resolve, 0)).then(() => this.commit());
    await this.group;
    return "queued";
  }

  /** Why the ledger holds fetches of `event`'s buyer or use ("unpaid", "refused"), or
   * "clear" (RPC for a HEAD, which is answered as its GET would be but stores nothing). */
  held(event) {
    const hold = this.sql.exec("SELECT kind FROM holds WHERE key IN (?, ?) AND until > ?",
      event.buyer, useKey(event), Date.now()).toArray()[0];
    return hold ? hold.kind : "clear";
  }

  async commit() {
    const events = this.pending;
    this.pending = [];
    this.group = null;
    this.storage.transactionSync(() => {
      for (const event of events) {
        const stored = this.sql.exec("INSERT OR IGNORE INTO events (id, body) VALUES (?, ?)", event.eventId, JSON.stringify(event));
        this.queued += stored.rowsWritten > 0 ? 1 : 0;
      }
    });
    if (!this.alarmSet) {
      if ((await this.storage.getAlarm()) === null) await this.storage.setAlarm(Date.now() + this.settings.delayMs);
      this.alarmSet = true;
    }
  }

  stats() {
    const counter = (name) => this.sql.exec("SELECT value FROM counters WHERE name = ?", name).toArray()[0]?.value ?? 0;
    return {
      queued: this.queued,
      refused: this.sql.exec("SELECT id, status, code FROM refused ORDER BY at DESC LIMIT 100").toArray(),
      delivered: counter("delivered"),
      failures: counter("failures"),
    };
  }

  /** Send the oldest batch; on failure try again later, doubling the wait up to a bound. */
  async alarm() {
    this.alarmSet = false;
    const rows = this.sql.exec("SELECT id, body FROM events ORDER BY seq LIMIT ?", this.settings.batch).toArray();
    if (rows.length === 0) return;
    let results = null;
    try {
      results = await this.deliver(rows);
    } catch {
      results = null;  // the ledger is unreachable: the events stay
    }
    if (results === null) {
      const failures = this.count("failures", 1);
      const wait = Math.min(this.settings.retryMaxMs, this.settings.retryMinMs * 2 ** Math.min(failures - 1, 16));
      await this.storage.setAlarm(Date.now() + wait);
      this.alarmSet = true;
      return;
    }
    this.sql.exec("INSERT OR REPLACE INTO counters (name, value) VALUES ('failures', 0)");
    this.settle(rows, results);
    if (this.queued > 0) {
      await this.storage.setAlarm(Date.now() + (this.queued >= this.settings.batch ? 0 : this.settings.delayMs));
      this.alarmSet = true;
    }
  }

  /** The ledger's per-event answers to one batch, or null if it gave none. */
  async deliver(rows) {
    const body = `{"events":[${rows.map((row) => row.body).join(",")}]}`;
    const headers = await usageHeaders(this.env.USAGE_SECRET, this.env.USAGE_SOURCE, body, Math.floor(Date.now() / 1000));
    const response = await fetch(new URL("/v1/usage", this.env.LEDGER_URL), { method: "POST", headers, body });
    const answer = response.headers.get("Content-Type")?.startsWith("application/json") ? await response.json() : null;
    // Only an answer per event acknowledges anything: a 401 (a key being rotated, a
    // clock off), a 5xx or a proxy's page keeps every event for the next try.
    if (!Array.isArray(answer?.results) || answer.results.length !== rows.length) return null;
    return answer.results;
  }

  /**
   * Drop what the ledger stored; keep what it refused, for the operator. A refusal the
   * ledger would repeat becomes a hold for `holdMs`, so the edge stops serving what
   * it cannot charge: a buyer withdrawing its deposit ("unpaid"), or this buyer's use
   * of an asset whose licence no longer allows it ("refused": revoked, consent
   * withdrawn, taken down, another buyer's exclusivity).
   */
  settle(rows, results) {
    let delivered = 0;
    const now = Date.now();
    rows.forEach((row, i) => {
      const result = results[i];
      if (result.httpStatus === 202 || result.httpStatus === 200) {
        delivered += 1;
      } else {
        const code = result.error?.code ?? null;
        this.sql.exec("INSERT OR REPLACE INTO refused (id, body, status, code, at) VALUES (?, ?, ?, ?, ?)",
          row.id, row.body, result.httpStatus, code, now);
        const event = JSON.parse(row.body);
        const hold = HOLDS[code];
        if (hold) {
          this.sql.exec("INSERT OR REPLACE INTO holds (key, kind, until) VALUES (?, ?, ?)",
            hold === "unpaid" ? event.buyer : useKey(event), hold, now + this.settings.holdMs);
        }
      }
      this.sql.exec("DELETE FROM events WHERE id = ?", row.id);
    });
    this.queued -= rows.length;
    this.count("delivered", delivered);
  }

  count(name, n) {
    return this.sql.exec(
      "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value RETURNING value",
      name, n).one().value;
  }
}
