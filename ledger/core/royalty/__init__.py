"""Per-use royalties, the pure part (consensus-critical, no I/O).

- `events`: usage events as a metering source reports them, their digest (a
  Merkle leaf), the stored forms of an event, and usage receipts;
- `auth`: the HMAC authentication of a metering source's requests;
- `terms`: what an anchored manifest says an asset costs and who is paid: units,
  prices, asset keys, split terms;
- `settlement`: the settlement rules: items, drafts, proposals, their statuses,
  usage roots and every amount. A change of settlement rules starts here;
- `periods`: which terms price usage at a time: an asset's periods between the
  amendments of its licence (issue 17).
"""
