"""Everything that talks to an EVM node: the local anvil, contract artifacts and
deployment, the AnchorRegistry client, and the transaction sender.

Depends on `ledger.core` and `ledger.errors` only; the service injects storage
through `TxJournal`.

Nothing is re-exported here: importing any submodule runs this file, and the
command line's light paths (`ledger verify` of an evidence package, `ledger submit
--wait`) use `anvil.json_rpc` and the artifacts without paying for web3.
"""
