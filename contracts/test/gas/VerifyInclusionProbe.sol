// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAnchorRegistry} from "../../src/interfaces/IAnchorRegistry.sol";

/**
 * @title VerifyInclusionProbe
 * @notice Used only by the anchor gas benchmark: measures what a contract pays to call
 * `verifyInclusion`, which a transaction's `gasUsed` hides once calldata dominates it.
 */
contract VerifyInclusionProbe {
    /**
     * @notice Calls `registry.verifyInclusion(leaf, proof, root)` and returns the gas the call
     * cost this contract, from encoding the arguments to decoding the answer.
     */
    function measure(IAnchorRegistry registry, bytes32 leaf, bytes32[] calldata proof, bytes32 root)
        external
        view
        returns (uint256 gasUsed, bool included)
    {
        uint256 before = gasleft();
        (included,) = registry.verifyInclusion(leaf, proof, root);
        gasUsed = before - gasleft();
    }
}
