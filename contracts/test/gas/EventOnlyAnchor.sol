// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title EventOnlyAnchor
 * @notice Gas floor for anchoring, used only by the anchor gas benchmark: the same calldata and
 * the same event as `AnchorRegistry.anchor`, but no access control, no storage and no fence.
 *
 * WARNING: Not a registry. Anyone can emit anything, and nothing is recorded or checked.
 */
contract EventOnlyAnchor {
    /// @dev Same signature as `IAnchorRegistry.Anchored`, so the log costs the same.
    event Anchored(bytes32 indexed root, uint64 indexed batchNumber, uint32 leafCount);

    /// @notice Emits {Anchored} for `root`.
    function anchor(uint64 batchNumber, bytes32 root, uint32 leafCount) external {
        emit Anchored(root, batchNumber, leafCount);
    }
}
