// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IAnchorRegistry
 * @notice Append-only registry of Merkle roots of ledger batches, each anchored once under a
 * sequential batch number, with on-chain inclusion checks for manifest digests.
 *
 * Leaves are hashed as `keccak256(bytes.concat(keccak256(abi.encode(digest))))` and internal nodes
 * as `keccak256` of the sorted pair, the hashing of OpenZeppelin's `StandardMerkleTree` for a single
 * `bytes32` value and of `MerkleProof`.
 *
 * NOTE: This interface is public API. The ledger service anchors through it, and dispute
 * resolvers call {verifyInclusion} with `cast call`. Changing a selector, an event or the leaf
 * hashing breaks proofs already handed out.
 */
interface IAnchorRegistry {
    /**
     * @dev Emitted when `root` is recorded under `batchNumber`, committing to a batch of
     * `leafCount` manifest digests. The anchor time is not repeated here: it is the timestamp of
     * the block the log names, which {anchoredAt} also returns.
     */
    event Anchored(bytes32 indexed root, uint64 indexed batchNumber, uint32 leafCount);

    /// @dev `batchNumber` was already used by an earlier anchor.
    error AnchorRegistry__BatchNumberUsed(uint64 batchNumber);

    /// @dev `got` is beyond the next free batch number `expected`: batches are numbered without gaps.
    error AnchorRegistry__BatchNumberGap(uint64 expected, uint64 got);

    /// @dev `root` is already anchored; a root is recorded once and never overwritten.
    error AnchorRegistry__RootAlreadyAnchored(bytes32 root);

    /// @dev The root for `batchNumber` is zero, which no Merkle tree of hashed leaves produces.
    error AnchorRegistry__ZeroRoot(uint64 batchNumber);

    /// @dev The leaf count for `batchNumber` is zero: an empty batch has no root.
    error AnchorRegistry__ZeroLeafCount(uint64 batchNumber);

    /// @dev {anchorMany} was called with no roots.
    error AnchorRegistry__EmptyBatch();

    /// @dev {anchorMany} got `roots` roots but `leafCounts` leaf counts.
    error AnchorRegistry__LengthMismatch(uint256 roots, uint256 leafCounts);

    /**
     * @notice Records `root`, the Merkle root of a batch of `leafCount` manifest digests, under
     * `batchNumber` with the current block's timestamp and number. Emits an {Anchored} event.
     *
     * Requirements:
     *
     * - the caller has the anchorer role.
     * - `batchNumber` equals {nextBatchNumber}: a used number reverts with
     *   {AnchorRegistry__BatchNumberUsed}, a later one with {AnchorRegistry__BatchNumberGap}.
     * - `root` is not zero and not anchored before.
     * - `leafCount` is not zero.
     *
     * WARNING: The batch-number fence is what stops two service replicas that both believe they
     * lead from anchoring twice: only the first transaction for a batch number succeeds. Callers
     * must treat {AnchorRegistry__BatchNumberUsed} as "someone else anchored this batch" and
     * reconcile with the {Anchored} events rather than retry under a new number.
     */
    function anchor(uint64 batchNumber, bytes32 root, uint32 leafCount) external;

    /**
     * @notice Records `roots[i]` with `leafCounts[i]` under batch number `firstBatchNumber + i`,
     * for every `i`, in one transaction. Emits one {Anchored} event per root.
     *
     * Requirements: those of {anchor} for every root, `roots` not empty, and `roots` and
     * `leafCounts` of the same length. The call is atomic: one bad root reverts them all.
     */
    function anchorMany(uint64 firstBatchNumber, bytes32[] calldata roots, uint32[] calldata leafCounts) external;

    /// @notice The batch number the next anchor must use; 1 before the first anchor.
    function nextBatchNumber() external view returns (uint64);

    /**
     * @notice When and under which batch number `root` was anchored.
     * @return timestamp The block timestamp of the anchoring transaction, 0 if `root` is not anchored.
     * @return blockNumber The block number of the anchoring transaction, 0 if `root` is not anchored.
     * @return batchNumber The batch number `root` was anchored under, 0 if `root` is not anchored.
     */
    function anchoredAt(bytes32 root) external view returns (uint64 timestamp, uint64 blockNumber, uint64 batchNumber);

    /**
     * @notice Whether the manifest digest `leaf` is in the anchored batch with root `root`.
     * @param leaf The manifest digest itself; the registry applies the double-keccak leaf hashing.
     * @param proof Sibling hashes from the leaf up to the root, as the ledger proof bundle lists them.
     * @param root The batch root the proof leads to.
     * @return included True only when `root` is anchored and `proof` leads from `leaf` to `root`.
     * @return timestamp The block timestamp `root` was anchored at when `included`, otherwise 0.
     *
     * WARNING: Inclusion shows that the digest was committed to no later than `timestamp` (a
     * block timestamp, which the block proposer sets within the chain's rules). It says nothing
     * about the manifest behind the digest: check its signature and recompute its digest
     * off-chain before relying on it.
     */
    function verifyInclusion(bytes32 leaf, bytes32[] calldata proof, bytes32 root)
        external
        view
        returns (bool included, uint64 timestamp);
}
