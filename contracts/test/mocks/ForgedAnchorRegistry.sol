// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @dev The audit's forged registry (issue 11): it answers `anchoredAt` and `verifyInclusion` with
 * whatever it was last told and emits a look-alike `Anchored` event, so a verifier that trusts the
 * contract a bundle names accepts any anchor time. Used only by tests that show ledger refuses it.
 */
contract ForgedAnchorRegistry {
    event Anchored(bytes32 indexed root, uint64 indexed batchNumber, uint32 leafCount);

    uint64 private _timestamp;
    uint64 private _blockNumber;
    uint64 private _batchNumber;

    /// @dev Makes every later read claim `root` was anchored as `batchNumber` in `blockNumber` at `timestamp`.
    function claim(bytes32 root, uint64 batchNumber, uint32 leafCount, uint64 blockNumber, uint64 timestamp)
        external
    {
        _timestamp = timestamp;
        _blockNumber = blockNumber;
        _batchNumber = batchNumber;
        emit Anchored(root, batchNumber, leafCount);
    }

    function anchoredAt(bytes32) external view returns (uint64 timestamp, uint64 blockNumber, uint64 batchNumber) {
        return (_timestamp, _blockNumber, _batchNumber);
    }

    function verifyInclusion(bytes32, bytes32[] calldata, bytes32)
        external
        view
        returns (bool included, uint64 timestamp)
    {
        return (true, _timestamp);
    }
}
