// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {
    AccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IAnchorRegistry} from "./interfaces/IAnchorRegistry.sol";

/**
 * @title AnchorRegistry
 * @notice Append-only on-chain record of ledger batch roots. Each root is anchored once, under the
 * next sequential batch number, with the block timestamp and number of its transaction; nothing
 * can change or remove a record afterwards. Anyone can then check a manifest digest's inclusion
 * proof against an anchored root with {verifyInclusion}.
 *
 * Roles:
 *
 * - `ANCHORER_ROLE` may call {anchor} and {anchorMany}; the ledger service's signing account.
 * - `DEFAULT_ADMIN_ROLE` grants and revokes `ANCHORER_ROLE`. It is held by exactly one account and
 *   moves in two steps after {ADMIN_DELAY} (OpenZeppelin `AccessControlDefaultAdminRules`): the
 *   registry is never redeployed, since proofs name its address forever, so losing the admin to a
 *   mistyped transfer or a hasty renounce would leave a leaked anchorer key irrevocable.
 *
 * WARNING: An anchorer can consume batch numbers with roots of its choosing (it cannot alter
 * anchored ones). If an anchorer key leaks, the admin must revoke it; the service then sees
 * {AnchorRegistry__BatchNumberUsed} and must stop, not skip numbers.
 */
contract AnchorRegistry is IAnchorRegistry, AccessControlDefaultAdminRules {
    /// @notice Role allowed to anchor roots.
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// @notice Delay before a scheduled transfer of the admin role can be accepted.
    uint48 public constant ADMIN_DELAY = 3 days;

    /**
     * @dev A root's record, one storage slot so an anchor costs one new slot. Solidity packs the
     * members from the low-order end: timestamp in bits 0-63, block number in bits 64-127, batch
     * number in bits 128-191, which {anchorMany} relies on when it writes the word directly.
     * `batchNumber` is never 0 for a recorded root (numbering starts at 1), which marks a used slot.
     */
    struct AnchorRecord {
        uint64 timestamp;
        uint64 blockNumber;
        uint64 batchNumber;
    }

    /// @dev Root => its record; all zero until the root is anchored.
    mapping(bytes32 root => AnchorRecord) private _anchors;

    /// @dev Starts at 1 so the first anchor updates a non-zero slot and costs no more than any other.
    uint64 private _nextBatchNumber = 1;

    /**
     * @param initialAdmin The single holder of `DEFAULT_ADMIN_ROLE`; it grants `ANCHORER_ROLE`
     * with `grantRole` after deployment.
     */
    constructor(address initialAdmin) AccessControlDefaultAdminRules(ADMIN_DELAY, initialAdmin) {}

    /// @inheritdoc IAnchorRegistry
    function anchor(uint64 batchNumber, bytes32 root, uint32 leafCount) external onlyRole(ANCHORER_ROLE) {
        uint64 expected = _nextBatchNumber;
        _checkBatchNumber(expected, batchNumber);
        // Cannot overflow: each increment is one transaction, and 2^64 of them will never be mined.
        unchecked {
            _nextBatchNumber = expected + 1;
        }

        AnchorRecord storage record = _anchors[root];
        if (root == bytes32(0) || leafCount == 0 || record.batchNumber != 0) {
            _revertUnrecordable(root, batchNumber, leafCount);
        }
        uint64 timestamp = SafeCast.toUint64(block.timestamp);
        uint64 blockNumber = SafeCast.toUint64(block.number);
        record.timestamp = timestamp;
        record.blockNumber = blockNumber;
        record.batchNumber = batchNumber;
        emit Anchored(root, batchNumber, leafCount);
    }

    /**
     * @inheritdoc IAnchorRegistry
     * @dev Records and emits exactly what {anchor} would for each root in turn, but in an assembly
     * loop: the fixed costs of a root (a new slot, the event, its calldata) come to about 24.5k gas,
     * to which the loop adds about 0.25k where a high-level loop added about 0.65k. A test checks
     * that it leaves the same records and logs as {anchor}.
     */
    function anchorMany(uint64 firstBatchNumber, bytes32[] calldata roots, uint32[] calldata leafCounts)
        external
        onlyRole(ANCHORER_ROLE)
    {
        if (roots.length == 0) {
            revert AnchorRegistry__EmptyBatch();
        }
        if (roots.length != leafCounts.length) {
            revert AnchorRegistry__LengthMismatch(roots.length, leafCounts.length);
        }
        _checkBatchNumber(_nextBatchNumber, firstBatchNumber);
        // Checked: overflow reverts, so every batch number below fits in 64 bits.
        _nextBatchNumber = firstBatchNumber + SafeCast.toUint64(roots.length);

        // The timestamp and block number as they sit in an AnchorRecord word.
        uint256 blockStamp =
            uint256(SafeCast.toUint64(block.timestamp)) | (uint256(SafeCast.toUint64(block.number)) << 64);
        bytes32 anchoredTopic = Anchored.selector;
        uint256 recorded;
        // Memory-safe: only the scratch space is written, first with the hash input (root, then the
        // mapping's slot), then with the event data. The ABI decoder has already checked that both
        // arrays lie inside the calldata.
        assembly ("memory-safe") {
            mstore(0x20, _anchors.slot)
            let batchNumber := firstBatchNumber
            let leafCountAt := leafCounts.offset
            let rootsEnd := add(roots.offset, shl(5, roots.length))
            for { let rootAt := roots.offset } lt(rootAt, rootsEnd) {
                rootAt := add(rootAt, 0x20)
                leafCountAt := add(leafCountAt, 0x20)
                batchNumber := add(batchNumber, 1)
            } {
                let root := calldataload(rootAt)
                let leafCount := calldataload(leafCountAt)
                // Stop at a zero root, or a leaf count of 0 or beyond uint32 (0 wraps round to
                // the maximum in the subtraction); the revert below says which.
                if or(iszero(root), iszero(lt(sub(leafCount, 1), 0xffffffff))) { break }
                mstore(0x00, root)
                let slot := keccak256(0x00, 0x40)
                if sload(slot) { break }
                sstore(slot, or(blockStamp, shl(128, batchNumber)))
                // The event data is one ABI word, the leaf count, checked above to fit in uint32.
                // It overwrites the root in 0x00, which the next round stores again.
                mstore(0x00, leafCount)
                log3(0x00, 0x20, anchoredTopic, root, batchNumber)
            }
            recorded := sub(batchNumber, firstBatchNumber)
        }
        if (recorded < roots.length) {
            _revertUnrecordable(roots[recorded], firstBatchNumber + SafeCast.toUint64(recorded), leafCounts[recorded]);
        }
    }

    /// @inheritdoc IAnchorRegistry
    function nextBatchNumber() external view returns (uint64) {
        return _nextBatchNumber;
    }

    /// @inheritdoc IAnchorRegistry
    function anchoredAt(bytes32 root) external view returns (uint64 timestamp, uint64 blockNumber, uint64 batchNumber) {
        AnchorRecord storage record = _anchors[root];
        return (record.timestamp, record.blockNumber, record.batchNumber);
    }

    /**
     * @inheritdoc IAnchorRegistry
     * @dev The leaf is hashed twice, so a 64-byte internal node can never pass as a leaf (a second
     * preimage attack on the tree), and proofs made for OpenZeppelin's `StandardMerkleTree` with a
     * single `bytes32` value verify unchanged.
     */
    function verifyInclusion(bytes32 leaf, bytes32[] calldata proof, bytes32 root)
        external
        view
        returns (bool included, uint64 timestamp)
    {
        AnchorRecord storage record = _anchors[root];
        if (record.batchNumber == 0 || !MerkleProof.verifyCalldata(proof, root, _leafHash(leaf))) {
            return (false, 0);
        }
        return (true, record.timestamp);
    }

    /// @dev Reverts unless `got` is the next free batch number `expected`.
    function _checkBatchNumber(uint64 expected, uint64 got) private pure {
        if (got < expected) {
            revert AnchorRegistry__BatchNumberUsed(got);
        }
        if (got > expected) {
            revert AnchorRegistry__BatchNumberGap(expected, got);
        }
    }

    /**
     * @dev Reverts with the reason `root` cannot be recorded under `batchNumber`, checked in the
     * order zero root, zero leaf count, root already anchored. Called only once one of them holds.
     */
    function _revertUnrecordable(bytes32 root, uint64 batchNumber, uint32 leafCount) private pure {
        if (root == bytes32(0)) {
            revert AnchorRegistry__ZeroRoot(batchNumber);
        }
        if (leafCount == 0) {
            revert AnchorRegistry__ZeroLeafCount(batchNumber);
        }
        revert AnchorRegistry__RootAlreadyAnchored(root);
    }

    /// @dev The ledger leaf hash, `keccak256(keccak256(abi.encode(digest)))`: consensus-critical.
    function _leafHash(bytes32 digest) private pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(digest))));
    }
}
