// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AnchorRegistryBase} from "./AnchorRegistry.t.sol";

/**
 * @dev Evidence packages (docs/proof-format.md section 9) prove an anchor with an EIP-1186
 * storage proof of one slot, so the slot and its packing are part of the format: the record of
 * `root` is the word at keccak256(abi.encode(root, uint256(3))), timestamp in bits 0-63, block
 * number in bits 64-127, batch number in bits 128-191. A change of the registry's storage layout
 * must fail here before it breaks every verifier (ledger/core/chain_state.py ANCHORS_SLOT).
 */
contract AnchorRegistryStorageTest is AnchorRegistryBase {
    uint256 internal constant ANCHORS_SLOT = 3;

    function _word(bytes32 root) internal view returns (uint256) {
        return uint256(vm.load(address(registry), keccak256(abi.encode(root, ANCHORS_SLOT))));
    }

    function test_recordOfAnchorIsOnePackedWordInSlotThree() public {
        bytes32 root = keccak256("evidence root");
        _anchor(1, root, 5);
        uint256 expected = uint256(1_700_000_000) | (uint256(100) << 64) | (uint256(1) << 128);
        assertEq(_word(root), expected, "packed record");
    }

    function test_recordsOfAnchorManyUseTheSameSlots() public {
        bytes32 a = keccak256("a");
        bytes32 b = keccak256("b");
        _anchorMany(1, _pair(a, b), _counts(1, 2));
        assertEq(_word(a) >> 128, 1, "first batch number");
        assertEq(_word(b) >> 128, 2, "second batch number");
        assertEq(_word(b) & type(uint64).max, 1_700_000_000, "timestamp");
    }

    function test_unanchoredRootsSlotIsEmpty() public {
        assertEq(_word(keccak256("never anchored")), 0, "empty slot");
    }

    function testFuzz_slotHoldsWhatAnchoredAtReturns(bytes32 root, uint64 time, uint64 height) public {
        vm.assume(root != bytes32(0));
        vm.warp(time);
        vm.roll(height);
        _anchor(1, root, 1);
        (uint64 t, uint64 b, uint64 n) = registry.anchoredAt(root);
        uint256 word = _word(root);
        assertEq(word & type(uint64).max, t, "timestamp");
        assertEq((word >> 64) & type(uint64).max, b, "block number");
        assertEq(word >> 128, n, "batch number");
    }
}
