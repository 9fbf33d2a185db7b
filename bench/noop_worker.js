// The runtime's floor for bench/edge_bench.py: a Worker that answers every request
// with a constant 16 KiB body, touching neither the origin nor storage. Whatever
// latency it shows is workerd's and Miniflare's own on this machine, which no
// Worker code can go below.
import { DurableObject } from "cloudflare:workers";

export class UsageQueue extends DurableObject {}

const BODY = new Uint8Array(16 * 1024);

export default {
  async fetch() {
    return new Response(BODY, { headers: { "Content-Type": "application/octet-stream" } });
  },
};
