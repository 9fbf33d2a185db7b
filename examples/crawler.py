"""A licensed crawler, end to end (RSL 1.0 + OLP + crawler authorization), on the
client `ledger crawl` runs (ledger/cli/crawl.py):

1. read the site's ``robots.txt`` for its ``License:`` line (the RSL document);
2. read the RSL document: each ``<content url server>`` and its ``<license>``;
3. register with the licence server, proving the buyer wallet by its signature over
   a body that names that server (so no other server can replay it there);
4. get a licence token for each file (OLP's ``rsl`` grant);
5. fetch the file with ``Authorization: License <token>``, streamed into ``--out``
   (kept only when whole, within the size cap and the asset its token names).

Run it against a site behind the ledger's Worker (docs/web-licensing.md)::

    python examples/crawler.py https://photos.example --key-file buyer.key --out crawl/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ledger.cli.crawl import (
    Refused,
    fetch,
    file_name,
    licence_document,
    licence_token,
    offers,
    register,
)
from ledger.core.signing import EthSigningKey
from ledger.keyfile import load_key


def main() -> None:
    """``python examples/crawler.py SITE --key-file K``: one line per file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site")
    parser.add_argument("--key-file", required=True,
                        help="the buyer's Ethereum key (ledger keygen --type eth)")
    parser.add_argument("--out", type=Path, default=Path("crawl"),
                        help="the folder for the files (default ./crawl)")
    args = parser.parse_args()
    key = load_key(args.key_file)
    if not isinstance(key, EthSigningKey):
        parser.error("--key-file must hold an Ethereum key: the buyer's wallet")
    clients: dict[str, tuple[str, str]] = {}
    taken: set[str] = set()
    args.out.mkdir(parents=True, exist_ok=True)
    for offer in offers(licence_document(args.site)):  # steps 1 and 2
        if not offer.url.startswith(args.site.rstrip("/") + "/"):
            continue  # a marketplace's document lists other sites' files too
        try:
            if offer.server not in clients:  # step 3, once per licence server
                clients[offer.server] = register(offer.server, key, "example-crawler")
            token = licence_token(offer.server, clients[offer.server], offer)  # step 4
            got = fetch(offer.url, token, args.out / file_name(offer.url, taken))  # step 5
            taken.add(got.file)
            print(f"{offer.url}  {got.size:,} bytes  sha256 {got.sha256}  "
                  f"usage {got.usage_event}")
        except Refused as refused:
            print(f"{offer.url}  refused at {refused}")


if __name__ == "__main__":
    main()
