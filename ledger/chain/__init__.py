"""Everything that talks to an EVM node: the local anvil, contract artifacts and
deployment, the AnchorRegistry client, and the transaction sender.

Depends on `ledger.core` and `ledger.errors` only; the service injects storage
through `TxJournal`.
"""

from ledger.chain.anvil import DEV_KEYS, DEV_MNEMONIC, AnvilProcess, find_anvil
from ledger.chain.contracts.artifacts import Artifact, abi_hash, has_artifact, load_artifact
from ledger.chain.contracts.registry import (
    ANCHORER_ROLE,
    DEFAULT_ADMIN_ROLE,
    AnchoredEvent,
    AnchorRecord,
    AnchorRegistry,
)
from ledger.chain.deploy import DeployedContract, Deployment, deploy_contracts
from ledger.chain.rpc import (
    ChainRevertError,
    ChainUnavailableError,
    RevertDecoder,
    Web3Client,
    connect,
)
from ledger.chain.tx.journal import JsonFileJournal, MemoryJournal, TxJournal
from ledger.chain.tx.sender import CounterMetrics, Sender, SenderMetrics
from ledger.chain.tx.state import (
    Fees,
    Inclusion,
    SendPolicy,
    SentTx,
    TxAttempt,
    TxEvent,
    TxEventKind,
    TxStatus,
)

__all__ = [
    "ANCHORER_ROLE",
    "DEFAULT_ADMIN_ROLE",
    "DEV_KEYS",
    "DEV_MNEMONIC",
    "AnchorRecord",
    "AnchorRegistry",
    "AnchoredEvent",
    "AnvilProcess",
    "Artifact",
    "ChainRevertError",
    "ChainUnavailableError",
    "CounterMetrics",
    "DeployedContract",
    "Deployment",
    "Fees",
    "Inclusion",
    "JsonFileJournal",
    "MemoryJournal",
    "RevertDecoder",
    "SendPolicy",
    "Sender",
    "SenderMetrics",
    "SentTx",
    "TxAttempt",
    "TxEvent",
    "TxEventKind",
    "TxJournal",
    "TxStatus",
    "Web3Client",
    "abi_hash",
    "connect",
    "deploy_contracts",
    "find_anvil",
    "has_artifact",
    "load_artifact",
]
