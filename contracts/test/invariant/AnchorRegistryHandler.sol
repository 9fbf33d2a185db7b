// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "@prb/test/Vm.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {AnchorRegistry} from "../../src/AnchorRegistry.sol";
import {IAnchorRegistry} from "../../src/interfaces/IAnchorRegistry.sol";

/**
 * @dev Drives an {AnchorRegistry} for the invariant test: anchors one-leaf trees over fresh digests,
 * and just as often tries what must fail (a used or skipped batch number, a root anchored before,
 * a zero root or leaf count, a caller without the role). A model predicts the outcome of every
 * call, error included; the invariants compare the registry with the model's records.
 */
contract AnchorRegistryHandler {
    struct Record {
        uint64 timestamp;
        uint64 blockNumber;
        uint64 batchNumber;
    }

    Vm private constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    AnchorRegistry private immutable _registry;
    address private immutable _anchorer;
    address private immutable _stranger;

    bytes32[] private _roots;
    mapping(bytes32 root => Record) private _records;
    mapping(bytes32 root => bytes32) private _digests;
    mapping(uint64 batchNumber => bytes32) private _rootOfBatch;
    uint256 private _nonce;

    /// @notice Calls whose success or error differed from the model's prediction.
    uint256 public unexpectedOutcomes;

    constructor(AnchorRegistry registry, address anchorer, address stranger) {
        _registry = registry;
        _anchorer = anchorer;
        _stranger = stranger;
    }

    /*//////////////////////////////////////////////////////////////
                                ACTIONS
    //////////////////////////////////////////////////////////////*/

    /// @notice One {AnchorRegistry.anchor} call, valid or not as `rootMode`/`numberMode` pick.
    function anchor(uint8 rootMode, uint8 numberMode, uint64 numberNoise, uint32 leafCount) external {
        (bytes32 root, bytes32 digest) = _pickRoot(rootMode);
        uint64 batchNumber = _pickBatchNumber(numberMode, numberNoise);
        bytes memory expected = _expectedError(batchNumber, root, leafCount);

        vm.prank(_anchorer);
        try _registry.anchor(batchNumber, root, leafCount) {
            _noteSuccess(expected);
            _noteAnchored(root, digest, batchNumber);
        } catch (bytes memory reason) {
            _noteFailure(expected, reason);
        }
    }

    /**
     * @notice One {AnchorRegistry.anchorMany} call of 1-4 roots; `badIndex` and `badMode` may spoil
     * one entry (a zero root or leaf count, or a root repeated or anchored before).
     */
    function anchorMany(uint8 size, uint8 numberMode, uint64 numberNoise, uint8 badIndex, uint8 badMode) external {
        uint256 count = 1 + (size % 4);
        uint64 first = _pickBatchNumber(numberMode, numberNoise);
        bytes32[] memory roots = new bytes32[](count);
        bytes32[] memory digests = new bytes32[](count);
        uint32[] memory counts = new uint32[](count);
        for (uint256 i = 0; i < count; ++i) {
            (roots[i], digests[i]) = _pickRoot(0);
            counts[i] = SafeCast.toUint32(1 + i);
        }
        _spoil(roots, counts, badIndex % count, badMode);

        bytes memory expected = _expectedManyError(first, roots, counts);
        vm.prank(_anchorer);
        try _registry.anchorMany(first, roots, counts) {
            _noteSuccess(expected);
            for (uint256 i = 0; i < count; ++i) {
                _noteAnchored(roots[i], digests[i], first + SafeCast.toUint64(i));
            }
        } catch (bytes memory reason) {
            _noteFailure(expected, reason);
        }
    }

    /// @notice An anchor attempt by an account without the anchorer role: must always fail.
    function anchorAsStranger(uint8 rootMode) external {
        (bytes32 root,) = _pickRoot(rootMode);
        bytes memory expected = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, _stranger, _registry.ANCHORER_ROLE()
        );
        uint64 batchNumber = _registry.nextBatchNumber();
        vm.prank(_stranger);
        try _registry.anchor(batchNumber, root, 1) {
            _noteSuccess(expected);
        } catch (bytes memory reason) {
            _noteFailure(expected, reason);
        }
    }

    /// @notice Moves time and height forward, so a rewritten record would show.
    function advanceBlock(uint16 secondsAhead, uint8 blocksAhead) external {
        vm.warp(block.timestamp + 1 + secondsAhead);
        vm.roll(block.number + 1 + blocksAhead);
    }

    /*//////////////////////////////////////////////////////////////
                              MODEL GETTERS
    //////////////////////////////////////////////////////////////*/

    function rootCount() external view returns (uint256) {
        return _roots.length;
    }

    function rootAt(uint256 index) external view returns (bytes32) {
        return _roots[index];
    }

    function recordOf(bytes32 root) external view returns (uint64 timestamp, uint64 blockNumber, uint64 batchNumber) {
        Record memory record = _records[root];
        return (record.timestamp, record.blockNumber, record.batchNumber);
    }

    function digestOf(bytes32 root) external view returns (bytes32) {
        return _digests[root];
    }

    function rootOfBatch(uint64 batchNumber) external view returns (bytes32) {
        return _rootOfBatch[batchNumber];
    }

    /*//////////////////////////////////////////////////////////////
                                 MODEL
    //////////////////////////////////////////////////////////////*/

    /// @dev Mode 0-5: a fresh one-leaf root; 6: a root anchored before (if any); 7: zero.
    function _pickRoot(uint8 mode) private returns (bytes32 root, bytes32 digest) {
        uint8 pick = mode % 8;
        if (pick == 6 && _roots.length > 0) {
            root = _roots[_nonce++ % _roots.length];
            return (root, _digests[root]);
        }
        if (pick == 7) {
            return (bytes32(0), bytes32(0));
        }
        digest = keccak256(abi.encode("digest", _nonce++));
        root = keccak256(bytes.concat(keccak256(abi.encode(digest))));
    }

    /// @dev Mode 0-4: the next number; 5: a used one (0 included); 6: one past a gap.
    function _pickBatchNumber(uint8 mode, uint64 noise) private view returns (uint64) {
        uint64 next = _registry.nextBatchNumber();
        uint8 pick = mode % 7;
        if (pick == 5) {
            return noise % next;
        }
        if (pick == 6) {
            return next + 1 + (noise % 1000);
        }
        return next;
    }

    /// @dev badMode 0-3: no change; 4: zero root; 5: zero leaf count; 6: repeat a root of the call;
    /// 7: a root anchored before.
    function _spoil(bytes32[] memory roots, uint32[] memory counts, uint256 index, uint8 badMode) private view {
        uint8 mode = badMode % 8;
        if (mode == 4) {
            roots[index] = bytes32(0);
        } else if (mode == 5) {
            counts[index] = 0;
        } else if (mode == 6 && index > 0) {
            roots[index] = roots[0];
        } else if (mode == 7 && _roots.length > 0) {
            roots[index] = _roots[index % _roots.length];
        }
    }

    /// @dev The error {AnchorRegistry.anchor} must revert with, or empty for success.
    function _expectedError(uint64 batchNumber, bytes32 root, uint32 leafCount) private view returns (bytes memory) {
        uint64 next = _registry.nextBatchNumber();
        if (batchNumber < next) {
            return abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__BatchNumberUsed.selector, batchNumber);
        }
        if (batchNumber > next) {
            return abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__BatchNumberGap.selector, next, batchNumber);
        }
        return _expectedRootError(batchNumber, root, leafCount);
    }

    function _expectedRootError(uint64 batchNumber, bytes32 root, uint32 leafCount)
        private
        view
        returns (bytes memory)
    {
        if (root == bytes32(0)) {
            return abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__ZeroRoot.selector, batchNumber);
        }
        if (leafCount == 0) {
            return abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__ZeroLeafCount.selector, batchNumber);
        }
        if (_records[root].batchNumber != 0) {
            return abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__RootAlreadyAnchored.selector, root);
        }
        return "";
    }

    /// @dev The error {AnchorRegistry.anchorMany} must revert with, or empty for success.
    function _expectedManyError(uint64 first, bytes32[] memory roots, uint32[] memory counts)
        private
        view
        returns (bytes memory expected)
    {
        uint64 next = _registry.nextBatchNumber();
        if (first < next) {
            return abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__BatchNumberUsed.selector, first);
        }
        if (first > next) {
            return abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__BatchNumberGap.selector, next, first);
        }
        for (uint256 i = 0; i < roots.length; ++i) {
            expected = _expectedRootError(first + SafeCast.toUint64(i), roots[i], counts[i]);
            if (expected.length == 0 && _repeatsEarlier(roots, i)) {
                expected =
                    abi.encodeWithSelector(IAnchorRegistry.AnchorRegistry__RootAlreadyAnchored.selector, roots[i]);
            }
            if (expected.length != 0) {
                return expected;
            }
        }
    }

    function _repeatsEarlier(bytes32[] memory roots, uint256 index) private pure returns (bool) {
        for (uint256 j = 0; j < index; ++j) {
            if (roots[j] == roots[index]) {
                return true;
            }
        }
        return false;
    }

    function _noteAnchored(bytes32 root, bytes32 digest, uint64 batchNumber) private {
        _roots.push(root);
        _records[root] = Record(SafeCast.toUint64(block.timestamp), SafeCast.toUint64(block.number), batchNumber);
        _digests[root] = digest;
        _rootOfBatch[batchNumber] = root;
    }

    function _noteSuccess(bytes memory expected) private {
        if (expected.length != 0) {
            ++unexpectedOutcomes;
        }
    }

    function _noteFailure(bytes memory expected, bytes memory reason) private {
        if (expected.length == 0 || keccak256(reason) != keccak256(expected)) {
            ++unexpectedOutcomes;
        }
    }
}
