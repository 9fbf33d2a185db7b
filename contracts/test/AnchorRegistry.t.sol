// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Vm} from "@prb/test/Vm.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {
    IAccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";

import {AnchorRegistry} from "../src/AnchorRegistry.sol";
import {IAnchorRegistry} from "../src/interfaces/IAnchorRegistry.sol";
import {AnchorRegistryHandler} from "./invariant/AnchorRegistryHandler.sol";

/**
 * @dev The ledger Merkle tree rebuilt independently for tests: leaf = keccak(keccak(digest)),
 * node = keccak of the sorted pair, levels paired left to right, an odd last node promoted.
 */
library TestMerkle {
    function leafHash(bytes32 digest) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(digest))));
    }

    function nodeHash(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    /// @dev `count` distinct pseudo-random digests derived from `seed`.
    function digests(uint256 seed, uint256 count) internal pure returns (bytes32[] memory result) {
        result = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            result[i] = keccak256(abi.encode(seed, i));
        }
    }

    /// @dev The root of the tree over `leaves` and the proof for the leaf at `index`.
    function rootAndProof(bytes32[] memory leaves, uint256 index)
        internal
        pure
        returns (bytes32 root, bytes32[] memory proof)
    {
        bytes32[] memory level = new bytes32[](leaves.length);
        for (uint256 i = 0; i < leaves.length; ++i) {
            level[i] = leafHash(leaves[i]);
        }
        bytes32[] memory path = new bytes32[](64);
        uint256 depth = 0;
        uint256 position = index;
        while (level.length > 1) {
            uint256 sibling = position ^ 1;
            if (sibling < level.length) {
                path[depth++] = level[sibling];
            }
            bytes32[] memory next = new bytes32[]((level.length + 1) / 2);
            for (uint256 j = 0; j < next.length; ++j) {
                next[j] = 2 * j + 1 < level.length ? nodeHash(level[2 * j], level[2 * j + 1]) : level[2 * j];
            }
            level = next;
            position >>= 1;
        }
        root = level[0];
        proof = new bytes32[](depth);
        for (uint256 k = 0; k < depth; ++k) {
            proof[k] = path[k];
        }
    }
}

/// @dev Shared set-up: an admin, one anchorer, a stranger, and helpers to anchor.
abstract contract AnchorRegistryBase is PRBTest {
    event Anchored(bytes32 indexed root, uint64 indexed batchNumber, uint32 leafCount);

    AnchorRegistry internal registry;
    address internal admin = address(0xAD);
    address internal anchorer = address(0xA1);
    address internal stranger = address(0x5E);
    bytes32 internal anchorerRole;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        vm.roll(100);
        registry = new AnchorRegistry(admin);
        anchorerRole = registry.ANCHORER_ROLE();
        vm.prank(admin);
        registry.grantRole(anchorerRole, anchorer);
    }

    function _anchor(uint64 batchNumber, bytes32 root, uint32 leafCount) internal {
        vm.prank(anchorer);
        registry.anchor(batchNumber, root, leafCount);
    }

    function _anchorMany(uint64 first, bytes32[] memory roots, uint32[] memory leafCounts) internal {
        vm.prank(anchorer);
        registry.anchorMany(first, roots, leafCounts);
    }

    function _pair(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory pair) {
        pair = new bytes32[](2);
        pair[0] = a;
        pair[1] = b;
    }

    function _counts(uint32 a, uint32 b) internal pure returns (uint32[] memory pair) {
        pair = new uint32[](2);
        pair[0] = a;
        pair[1] = b;
    }

    function _assertRecord(bytes32 root, uint256 timestamp, uint256 blockNumber, uint256 batchNumber) internal {
        (uint64 t, uint64 b, uint64 n) = registry.anchoredAt(root);
        assertEq(t, timestamp, "timestamp");
        assertEq(b, blockNumber, "block number");
        assertEq(n, batchNumber, "batch number");
    }

    function _assertNotAnchored(bytes32 root) internal {
        _assertRecord(root, 0, 0, 0);
    }

    function _bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        return min + (x % (max - min + 1));
    }
}

contract AnchorRegistryTest is AnchorRegistryBase {
    bytes32 internal constant ROOT_A = keccak256("root a");
    bytes32 internal constant ROOT_B = keccak256("root b");
    bytes32 internal constant ROOT_C = keccak256("root c");

    /*//////////////////////////////////////////////////////////////
                        CONSTRUCTOR AND ROLES
    //////////////////////////////////////////////////////////////*/

    function test_Constructor_SetsAdminDelayAndFirstBatchNumber() public {
        assertTrue(registry.hasRole(registry.DEFAULT_ADMIN_ROLE(), admin));
        assertEq(registry.defaultAdmin(), admin);
        assertEq(registry.defaultAdminDelay(), 3 days);
        assertEq(registry.ADMIN_DELAY(), 3 days);
        assertEq(registry.nextBatchNumber(), 1);
        assertEq(anchorerRole, keccak256("ANCHORER_ROLE"));
        assertFalse(registry.hasRole(anchorerRole, admin), "admin is not an anchorer by default");
    }

    function test_Constructor_RevertWhen_AdminIsZero() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControlDefaultAdminRules.AccessControlInvalidDefaultAdmin.selector, address(0)
            )
        );
        new AnchorRegistry(address(0));
    }

    function test_GrantRole_RevertWhen_CallerIsNotAdmin() public {
        bytes32 adminRole = registry.DEFAULT_ADMIN_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, anchorer, adminRole)
        );
        vm.prank(anchorer);
        registry.grantRole(anchorerRole, stranger);
    }

    function test_RevokeRole_StopsAnchorer() public {
        vm.prank(admin);
        registry.revokeRole(anchorerRole, anchorer);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, anchorer, anchorerRole)
        );
        _anchor(1, ROOT_A, 1);
    }

    function test_SupportsInterface_AccessControl() public {
        assertTrue(registry.supportsInterface(type(IAccessControl).interfaceId));
        assertTrue(registry.supportsInterface(type(IAccessControlDefaultAdminRules).interfaceId));
    }

    /*//////////////////////////////////////////////////////////////
                                ANCHOR
    //////////////////////////////////////////////////////////////*/

    function test_Anchor_RecordsRootAndAdvancesBatchNumber() public {
        _anchor(1, ROOT_A, 1000);
        _assertRecord(ROOT_A, 1_700_000_000, 100, 1);
        assertEq(registry.nextBatchNumber(), 2);
    }

    function test_Anchor_EmitsAnchored() public {
        vm.expectEmit(address(registry));
        emit Anchored(ROOT_A, 1, 1000);
        _anchor(1, ROOT_A, 1000);
    }

    function test_Anchor_SequentialBatchesKeepTheirOwnBlock() public {
        _anchor(1, ROOT_A, 1);
        vm.warp(1_700_000_012);
        vm.roll(101);
        _anchor(2, ROOT_B, type(uint32).max);
        _assertRecord(ROOT_A, 1_700_000_000, 100, 1);
        _assertRecord(ROOT_B, 1_700_000_012, 101, 2);
        assertEq(registry.nextBatchNumber(), 3);
    }

    function test_Anchor_RevertWhen_CallerIsNotAnchorer() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, anchorerRole)
        );
        vm.prank(stranger);
        registry.anchor(1, ROOT_A, 1);

        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, anchorerRole)
        );
        vm.prank(admin);
        registry.anchor(1, ROOT_A, 1);
    }

    function test_Anchor_RevertWhen_BatchNumberUsed() public {
        _anchor(1, ROOT_A, 1);
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__BatchNumberUsed.selector, 1));
        _anchor(1, ROOT_B, 1);
    }

    function test_Anchor_RevertWhen_BatchNumberIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__BatchNumberUsed.selector, 0));
        _anchor(0, ROOT_A, 1);
    }

    function test_Anchor_RevertWhen_BatchNumberLeavesGap() public {
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__BatchNumberGap.selector, 1, 2));
        _anchor(2, ROOT_A, 1);
    }

    function test_Anchor_RevertWhen_RootIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__ZeroRoot.selector, 1));
        _anchor(1, bytes32(0), 1);
    }

    function test_Anchor_RevertWhen_LeafCountIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__ZeroLeafCount.selector, 1));
        _anchor(1, ROOT_A, 0);
    }

    function test_Anchor_RevertWhen_RootAlreadyAnchored() public {
        _anchor(1, ROOT_A, 1);
        vm.warp(1_700_000_100);
        vm.roll(150);
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__RootAlreadyAnchored.selector, ROOT_A));
        _anchor(2, ROOT_A, 7);
        _assertRecord(ROOT_A, 1_700_000_000, 100, 1);
        assertEq(registry.nextBatchNumber(), 2, "a failed anchor uses no batch number");
    }

    function test_Anchor_RevertWhen_LeafCountExceedsUint32() public {
        (bool ok, bytes memory returned) = address(registry)
            .call(abi.encodeWithSelector(registry.anchor.selector, uint256(1), ROOT_A, uint256(1) << 32));
        assertFalse(ok);
        assertEq(returned.length, 0);
    }

    /// Two service replicas that both believe they lead race for batch 1: exactly one wins.
    function test_Anchor_FenceStopsSecondReplica() public {
        address replica = address(0xA2);
        vm.prank(admin);
        registry.grantRole(anchorerRole, replica);

        _anchor(1, ROOT_A, 10);
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__BatchNumberUsed.selector, 1));
        vm.prank(replica);
        registry.anchor(1, ROOT_B, 10);

        _assertNotAnchored(ROOT_B);
        assertEq(registry.nextBatchNumber(), 2);
    }

    /*//////////////////////////////////////////////////////////////
                              ANCHOR MANY
    //////////////////////////////////////////////////////////////*/

    function test_AnchorMany_RecordsEveryRootUnderConsecutiveNumbers() public {
        bytes32[] memory roots = new bytes32[](3);
        (roots[0], roots[1], roots[2]) = (ROOT_A, ROOT_B, ROOT_C);
        uint32[] memory counts = new uint32[](3);
        (counts[0], counts[1], counts[2]) = (1, 2, type(uint32).max);
        _anchorMany(1, roots, counts);

        _assertRecord(ROOT_A, 1_700_000_000, 100, 1);
        _assertRecord(ROOT_B, 1_700_000_000, 100, 2);
        _assertRecord(ROOT_C, 1_700_000_000, 100, 3);
        assertEq(registry.nextBatchNumber(), 4);
    }

    function test_AnchorMany_EmitsOneEventPerRoot() public {
        vm.expectEmit(address(registry));
        emit Anchored(ROOT_A, 1, 5);
        vm.expectEmit(address(registry));
        emit Anchored(ROOT_B, 2, 6);
        _anchorMany(1, _pair(ROOT_A, ROOT_B), _counts(5, 6));
    }

    /// The raw log the Python client decodes: this topic, root and batch number as topics, and the
    /// leaf count as the only data word (no timestamp: that is the block's), from both functions.
    function test_AnchorMany_LogLayoutMatchesAnchor() public {
        vm.recordLogs();
        _anchor(1, ROOT_A, 7);
        _anchorMany(2, _pair(ROOT_B, ROOT_C), _counts(type(uint32).max, 1));
        Vm.Log[] memory logs = vm.getRecordedLogs();

        assertEq(logs.length, 3);
        bytes32[3] memory roots = [ROOT_A, ROOT_B, ROOT_C];
        uint256[3] memory counts = [uint256(7), type(uint32).max, 1];
        for (uint256 i = 0; i < logs.length; ++i) {
            assertEq(logs[i].topics.length, 3);
            assertEq(logs[i].topics[0], keccak256("Anchored(bytes32,uint64,uint32)"));
            assertEq(logs[i].topics[1], roots[i]);
            assertEq(logs[i].topics[2], bytes32(i + 1));
            assertEq(logs[i].data, abi.encode(counts[i]));
        }
    }

    function test_AnchorMany_ContinuesAfterAnchor() public {
        _anchor(1, ROOT_A, 1);
        _anchorMany(2, _pair(ROOT_B, ROOT_C), _counts(1, 1));
        _assertRecord(ROOT_C, 1_700_000_000, 100, 3);
        _anchor(4, keccak256("root d"), 1);
        assertEq(registry.nextBatchNumber(), 5);
    }

    function test_AnchorMany_RevertWhen_CallerIsNotAnchorer() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, anchorerRole)
        );
        vm.prank(stranger);
        registry.anchorMany(1, _pair(ROOT_A, ROOT_B), _counts(1, 1));
    }

    function test_AnchorMany_RevertWhen_Empty() public {
        vm.expectRevert(IAnchorRegistry.AnchorRegistry__EmptyBatch.selector);
        _anchorMany(1, new bytes32[](0), new uint32[](0));
    }

    function test_AnchorMany_RevertWhen_LengthsDiffer() public {
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__LengthMismatch.selector, 2, 1));
        _anchorMany(1, _pair(ROOT_A, ROOT_B), new uint32[](1));

        uint32[] memory counts = _counts(1, 1);
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__LengthMismatch.selector, 1, 2));
        _anchorMany(1, new bytes32[](1), counts);
    }

    function test_AnchorMany_RevertWhen_BatchNumberUsed() public {
        _anchor(1, ROOT_A, 1);
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__BatchNumberUsed.selector, 1));
        _anchorMany(1, _pair(ROOT_B, ROOT_C), _counts(1, 1));
    }

    function test_AnchorMany_RevertWhen_BatchNumberLeavesGap() public {
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__BatchNumberGap.selector, 1, 3));
        _anchorMany(3, _pair(ROOT_B, ROOT_C), _counts(1, 1));
    }

    function test_AnchorMany_RevertWhen_ARootIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__ZeroRoot.selector, 2));
        _anchorMany(1, _pair(ROOT_A, bytes32(0)), _counts(1, 1));
        _assertNotAnchored(ROOT_A);
        assertEq(registry.nextBatchNumber(), 1, "the whole call is undone");
    }

    function test_AnchorMany_RevertWhen_ALeafCountIsZero() public {
        _anchor(1, ROOT_C, 1);
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__ZeroLeafCount.selector, 3));
        _anchorMany(2, _pair(ROOT_A, ROOT_B), _counts(4, 0));
        _assertNotAnchored(ROOT_A);
    }

    function test_AnchorMany_RevertWhen_ZeroRootAndZeroLeafCount_ReportsRoot() public {
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__ZeroRoot.selector, 1));
        _anchorMany(1, _pair(bytes32(0), ROOT_A), _counts(0, 1));
    }

    function test_AnchorMany_RevertWhen_RootRepeatedInCall() public {
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__RootAlreadyAnchored.selector, ROOT_A));
        _anchorMany(1, _pair(ROOT_A, ROOT_A), _counts(1, 1));
        _assertNotAnchored(ROOT_A);
    }

    function test_AnchorMany_RevertWhen_RootAnchoredBefore() public {
        _anchor(1, ROOT_B, 1);
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__RootAlreadyAnchored.selector, ROOT_B));
        _anchorMany(2, _pair(ROOT_A, ROOT_B), _counts(1, 1));
        _assertRecord(ROOT_B, 1_700_000_000, 100, 1);
    }

    function test_AnchorMany_RevertWhen_LeafCountExceedsUint32() public {
        uint256[] memory wideCounts = new uint256[](2);
        (wideCounts[0], wideCounts[1]) = (1, uint256(1) << 32);
        vm.prank(anchorer);
        (bool ok, bytes memory returned) = address(registry)
            .call(abi.encodeWithSelector(registry.anchorMany.selector, uint64(1), _pair(ROOT_A, ROOT_B), wideCounts));
        assertFalse(ok);
        assertEq(returned.length, 0, "rejected like the ABI decoder rejects a bad uint32");
        _assertNotAnchored(ROOT_A);
    }

    /*//////////////////////////////////////////////////////////////
                      ANCHORED AT AND VERIFY INCLUSION
    //////////////////////////////////////////////////////////////*/

    function test_AnchoredAt_ZeroForUnknownRoot() public {
        _assertNotAnchored(ROOT_A);
        _assertNotAnchored(bytes32(0));
    }

    function test_VerifyInclusion_SingleLeafTree() public {
        bytes32 digest = keccak256("manifest");
        bytes32 root = TestMerkle.leafHash(digest);
        _anchor(1, root, 1);
        vm.warp(1_800_000_000);
        (bool included, uint64 timestamp) = registry.verifyInclusion(digest, new bytes32[](0), root);
        assertTrue(included);
        assertEq(timestamp, 1_700_000_000, "anchor time, not the time of the call");
    }

    /// Proofs from OpenZeppelin's `StandardMerkleTree.of(values, ["bytes32"])` (JS library 1.0.8).
    function test_VerifyInclusion_StandardMerkleTreeProofs() public {
        bytes32 root = 0xaf819eab5c4cf85b329c047daef837ba4e6fe9f06d058c57f32f3795caa5f31e;
        _anchor(1, root, 5);
        bool included;
        (included,) = registry.verifyInclusion(
            0xfe9e80e8cd5bb0ff1ad8541d904db44eb6355bdb446b273c5d4a816ba027a72e,
            _pair(
                0xab8443e2e2e2d4062ba4948b94c2b116f6bebcf1e1be97d4c9ff441a8b30da2d,
                0xd65895575f241c5974eeb4c2cd40a9c255881407621ee6d2c11e4538410fd24f
            ),
            root
        );
        assertTrue(included, "value 3");
        (included,) = registry.verifyInclusion(
            0xe0191287e7e5c7286a05de07295ce661f2a4080ba8c44cffca42026834893c8d,
            _pair(
                0x6c8f8ca9d26343308c32ddbaf74c3c5fe3ed3d743ad8e74282fbb32d6c9f877d,
                0x268521adb6f016b4d591eaf6766565f50dcee8925338927e6f88e02bb660bc45
            ),
            root
        );
        assertTrue(included, "value 0");
    }

    function test_VerifyInclusion_FalseWhen_RootNotAnchored() public {
        bytes32[] memory leaves = TestMerkle.digests(1, 5);
        (bytes32 root, bytes32[] memory proof) = TestMerkle.rootAndProof(leaves, 2);
        (bool included, uint64 timestamp) = registry.verifyInclusion(leaves[2], proof, root);
        assertFalse(included);
        assertEq(timestamp, 0);
    }

    function test_VerifyInclusion_FalseWhen_ProofIsForAnotherLeaf() public {
        bytes32[] memory leaves = TestMerkle.digests(1, 5);
        (bytes32 root, bytes32[] memory proof) = TestMerkle.rootAndProof(leaves, 2);
        _anchor(1, root, 5);
        (bool included, uint64 timestamp) = registry.verifyInclusion(leaves[3], proof, root);
        assertFalse(included);
        assertEq(timestamp, 0, "no timestamp without inclusion");
    }

    /// The registry hashes the digest itself: a caller passing an already hashed leaf fails.
    function test_VerifyInclusion_FalseWhen_LeafIsPassedHashed() public {
        bytes32[] memory leaves = TestMerkle.digests(2, 4);
        (bytes32 root, bytes32[] memory proof) = TestMerkle.rootAndProof(leaves, 1);
        _anchor(1, root, 4);
        (bool included,) = registry.verifyInclusion(TestMerkle.leafHash(leaves[1]), proof, root);
        assertFalse(included);
        (included,) = registry.verifyInclusion(keccak256(abi.encode(leaves[1])), proof, root);
        assertFalse(included);
    }

    /// An internal node presented as a leaf with the rest of the path (second preimage) fails.
    function test_VerifyInclusion_FalseWhen_InternalNodePresentedAsLeaf() public {
        bytes32[] memory leaves = TestMerkle.digests(3, 4);
        (bytes32 root, bytes32[] memory proof) = TestMerkle.rootAndProof(leaves, 0);
        _anchor(1, root, 4);
        bytes32 internalNode = TestMerkle.nodeHash(TestMerkle.leafHash(leaves[0]), TestMerkle.leafHash(leaves[1]));
        bytes32[] memory rest = new bytes32[](1);
        rest[0] = proof[1];
        (bool included,) = registry.verifyInclusion(internalNode, rest, root);
        assertFalse(included);
    }

    /*//////////////////////////////////////////////////////////////
                                 FUZZ
    //////////////////////////////////////////////////////////////*/

    function testFuzz_Anchor_RecordsAnyRootAndLeafCount(bytes32 root, uint32 leafCount, uint64 time, uint64 height)
        public
    {
        vm.assume(root != bytes32(0) && leafCount != 0);
        vm.warp(time);
        vm.roll(height);
        vm.expectEmit(address(registry));
        emit Anchored(root, 1, leafCount);
        _anchor(1, root, leafCount);
        _assertRecord(root, time, height, 1);
        assertEq(registry.nextBatchNumber(), 2);
    }

    function testFuzz_Anchor_RevertWhen_BatchNumberIsNotNext(uint8 anchoredBefore, uint64 batchNumber) public {
        for (uint256 i = 0; i < anchoredBefore; ++i) {
            _anchor(SafeCast.toUint64(i + 1), keccak256(abi.encode(i)), 1);
        }
        uint64 expected = uint64(anchoredBefore) + 1;
        vm.assume(batchNumber != expected);
        if (batchNumber < expected) {
            vm.expectRevert(
                abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__BatchNumberUsed.selector, batchNumber)
            );
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__BatchNumberGap.selector, expected, batchNumber)
            );
        }
        _anchor(batchNumber, ROOT_A, 1);
    }

    function testFuzz_VerifyInclusion_EveryLeafOfRandomTree(uint256 seed, uint256 size, uint256 index) public {
        size = _bound(size, 1, 70);
        index = _bound(index, 0, size - 1);
        bytes32[] memory leaves = TestMerkle.digests(seed, size);
        (bytes32 root, bytes32[] memory proof) = TestMerkle.rootAndProof(leaves, index);
        _anchor(1, root, SafeCast.toUint32(size));
        (bool included, uint64 timestamp) = registry.verifyInclusion(leaves[index], proof, root);
        assertTrue(included);
        assertEq(timestamp, 1_700_000_000);
    }

    function testFuzz_VerifyInclusion_FalseForUnanchoredRoot(uint256 seed, uint256 size, uint256 index) public {
        size = _bound(size, 1, 70);
        index = _bound(index, 0, size - 1);
        bytes32[] memory leaves = TestMerkle.digests(seed, size);
        (bytes32 root, bytes32[] memory proof) = TestMerkle.rootAndProof(leaves, index);
        _anchor(1, keccak256(abi.encode(root)), SafeCast.toUint32(size));
        (bool included, uint64 timestamp) = registry.verifyInclusion(leaves[index], proof, root);
        assertFalse(included);
        assertEq(timestamp, 0);
    }

    function testFuzz_VerifyInclusion_RandomBytesNeverVerify(uint256 seed, bytes32 leaf, bytes32[] memory proof)
        public
    {
        bytes32[] memory leaves = TestMerkle.digests(seed, 9);
        (bytes32 root,) = TestMerkle.rootAndProof(leaves, 0);
        _anchor(1, root, 9);
        (bool included, uint64 timestamp) = registry.verifyInclusion(leaf, proof, root);
        assertFalse(included);
        assertEq(timestamp, 0);
    }

    function testFuzz_VerifyInclusion_FalseWhenOneBitFlips(uint256 seed, uint256 size, uint256 index, uint256 bit)
        public
    {
        size = _bound(size, 2, 70);
        index = _bound(index, 0, size - 1);
        bytes32[] memory leaves = TestMerkle.digests(seed, size);
        (bytes32 root, bytes32[] memory proof) = TestMerkle.rootAndProof(leaves, index);
        _anchor(1, root, SafeCast.toUint32(size));

        // Positions 0-255 flip a bit of the leaf, later ones a bit of a proof element.
        bit = _bound(bit, 0, 256 * (proof.length + 1) - 1);
        bytes32 mask = bytes32(uint256(1) << (bit % 256));
        bytes32 leaf = leaves[index];
        if (bit < 256) {
            leaf ^= mask;
        } else {
            proof[bit / 256 - 1] ^= mask;
        }
        (bool included,) = registry.verifyInclusion(leaf, proof, root);
        assertFalse(included);
    }

    /// anchorMany leaves the same records and the same logs as the same roots anchored one by one.
    function testFuzz_AnchorMany_MatchesAnchorOneByOne(uint256 seed, uint256 count, uint256 firstFromSingles) public {
        count = _bound(count, 1, 12);
        firstFromSingles = _bound(firstFromSingles, 0, 3);
        AnchorRegistry singles = new AnchorRegistry(admin);
        vm.prank(admin);
        singles.grantRole(anchorerRole, anchorer);

        // Both registries first anchor the same few roots one at a time, so numbering starts later.
        for (uint256 i = 0; i < firstFromSingles; ++i) {
            bytes32 earlier = keccak256(abi.encode("earlier", seed, i));
            _anchor(SafeCast.toUint64(i + 1), earlier, 3);
            vm.prank(anchorer);
            singles.anchor(SafeCast.toUint64(i + 1), earlier, 3);
        }
        uint64 first = SafeCast.toUint64(firstFromSingles) + 1;

        bytes32[] memory roots = TestMerkle.digests(seed, count);
        uint32[] memory counts = new uint32[](count);
        for (uint256 i = 0; i < count; ++i) {
            counts[i] = uint32(_bound(uint256(keccak256(abi.encode(roots[i]))), 1, type(uint32).max));
        }

        vm.recordLogs();
        _anchorMany(first, roots, counts);
        Vm.Log[] memory manyLogs = vm.getRecordedLogs();
        vm.startPrank(anchorer);
        for (uint256 i = 0; i < count; ++i) {
            singles.anchor(first + SafeCast.toUint64(i), roots[i], counts[i]);
        }
        vm.stopPrank();
        Vm.Log[] memory singleLogs = vm.getRecordedLogs();

        assertEq(registry.nextBatchNumber(), singles.nextBatchNumber());
        assertEq(manyLogs.length, count);
        assertEq(singleLogs.length, count);
        for (uint256 i = 0; i < count; ++i) {
            (uint64 t1, uint64 b1, uint64 n1) = registry.anchoredAt(roots[i]);
            (uint64 t2, uint64 b2, uint64 n2) = singles.anchoredAt(roots[i]);
            assertEq(t1, t2);
            assertEq(b1, b2);
            assertEq(n1, n2);
            assertEq(n1, first + i);
            assertEq(manyLogs[i].topics, singleLogs[i].topics);
            assertEq(manyLogs[i].data, singleLogs[i].data);
            assertEq(manyLogs[i].emitter, address(registry));
        }
    }

    /*//////////////////////////////////////////////////////////////
                   CROSS-LANGUAGE VECTORS (PYTHON CORE)
    //////////////////////////////////////////////////////////////*/

    /// @dev One `onchain` entry of tests/vectors/merkle.json; fields in alphabetical order for parseJson.
    struct OnchainVector {
        bool expected;
        bytes32 leaf;
        string name;
        bytes32[] proof;
        bytes32 root;
    }

    /// Every `onchain` entry of tests/vectors/merkle.json, written by the Python core: anchor the
    /// entry's root, then `verifyInclusion` must answer the entry's `expected`.
    function test_Vectors_PythonCoreProofs() public {
        string memory json = vm.readFile(string.concat(vm.projectRoot(), "/tests/vectors/merkle.json"));
        OnchainVector[] memory vectors = abi.decode(vm.parseJson(json, ".onchain"), (OnchainVector[]));
        assertGt(vectors.length, 0, "merkle.json has no onchain entries");
        for (uint256 i = 0; i < vectors.length; ++i) {
            OnchainVector memory vector = vectors[i];
            (,, uint64 batchNumber) = registry.anchoredAt(vector.root);
            if (batchNumber == 0 && vector.root != bytes32(0)) {
                _anchor(registry.nextBatchNumber(), vector.root, 1);
            }
            (bool included, uint64 timestamp) = registry.verifyInclusion(vector.leaf, vector.proof, vector.root);
            assertEq(included, vector.expected, vector.name);
            assertEq(timestamp, included ? 1_700_000_000 : 0, vector.name);
        }
    }
}

/**
 * @dev Invariants under random anchoring through {AnchorRegistryHandler}, which mixes valid
 * anchors with re-anchoring, wrong batch numbers, zero values and callers without the role.
 */
contract AnchorRegistryInvariantTest is AnchorRegistryBase {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    AnchorRegistryHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new AnchorRegistryHandler(registry, anchorer, stranger);
    }

    /// @dev Read by forge: fuzz only the handler.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @dev Read by forge: only the handler's actions, not its getters.
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](4);
        selectors[0] = AnchorRegistryHandler.anchor.selector;
        selectors[1] = AnchorRegistryHandler.anchorMany.selector;
        selectors[2] = AnchorRegistryHandler.anchorAsStranger.selector;
        selectors[3] = AnchorRegistryHandler.advanceBlock.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector({addr: address(handler), selectors: selectors});
    }

    function invariant_RecordsNeverChange() public {
        uint256 count = handler.rootCount();
        for (uint256 i = 0; i < count; ++i) {
            bytes32 root = handler.rootAt(i);
            (uint64 timestamp, uint64 blockNumber, uint64 batchNumber) = handler.recordOf(root);
            _assertRecord(root, timestamp, blockNumber, batchNumber);
        }
    }

    function invariant_NextBatchNumberCountsSuccessfulAnchors() public {
        assertEq(registry.nextBatchNumber(), 1 + handler.rootCount());
    }

    /// Batch number b is the b-th root anchored, and that root's record names b: a bijection.
    function invariant_BatchNumbersMapOneToOneToRoots() public {
        uint256 count = handler.rootCount();
        for (uint256 i = 0; i < count; ++i) {
            bytes32 root = handler.rootAt(i);
            (,, uint64 batchNumber) = registry.anchoredAt(root);
            assertEq(batchNumber, i + 1);
            assertEq(handler.rootOfBatch(SafeCast.toUint64(i + 1)), root);
        }
    }

    /// Every anchored root is a one-leaf tree over a known digest, so it verifies with no proof.
    function invariant_AnchoredRootsVerify() public {
        uint256 count = handler.rootCount();
        for (uint256 i = 0; i < count; ++i) {
            bytes32 root = handler.rootAt(i);
            (uint64 timestamp,,) = handler.recordOf(root);
            (bool included, uint64 at) = registry.verifyInclusion(handler.digestOf(root), new bytes32[](0), root);
            assertTrue(included);
            assertEq(at, timestamp);
        }
    }

    /// Each call succeeded or reverted exactly as the handler's model predicted, with the same error.
    function invariant_EveryOutcomeMatchesModel() public {
        assertEq(handler.unexpectedOutcomes(), 0);
    }
}
