// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRoyaltySplitter} from "../src/interfaces/IRoyaltySplitter.sol";
import {SplitterBase} from "./splitter/SplitterBase.sol";
import {RejectingPayee, ReentrantPayee} from "./splitter/SplitterMocks.sol";

/// @dev Pull payments to payees: amounts, rounding, batches, hostile payees.
contract RoyaltySplitterReleaseTest is SplitterBase {
    bytes32 internal ethKey;
    bytes32 internal tokenKey;
    uint256 private _rootNonce;

    function setUp() public override {
        super.setUp();
        ethKey = _createSplit(ASSET, ETH, 1 gwei);
        tokenKey = _createSplit("asset-2", address(token), 10);
        _fund(ETH, ethKey, 1 gwei, 10 ether);
        _fund(address(token), tokenKey, 10, 1e24);
    }

    function test_release_paysEthShare() public {
        _settle(ETH, "r", _item(ethKey, 1, 1000));
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.Released(ethKey, 1, bob, ETH, 300 gwei);
        assertEq(splitter.release(ethKey, 1, bob), 300 gwei);
        assertEq(bob.balance, 300 gwei);
        assertEq(splitter.released(ethKey, 1, bob), 300 gwei);
        assertEq(splitter.releasable(ethKey, 1, bob), 0);
    }

    function test_release_paysErc20ShareAgainAfterMoreRevenue() public {
        _settle(address(token), "r1", _item(tokenKey, 1, 10));
        assertEq(splitter.release(tokenKey, 1, alice), 50);
        _settle(address(token), "r2", _item(tokenKey, 1, 30));
        assertEq(splitter.release(tokenKey, 1, alice), 150);
        assertEq(token.balanceOf(alice), 200);
    }

    function test_release_revertsWhenNothingDue() public {
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterNothingDue.selector, alice));
        splitter.release(ethKey, 1, alice);
    }

    function test_release_revertsForNonPayee() public {
        _settle(ETH, "r", _item(ethKey, 1, 10));
        vm.expectRevert(
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterNotPayee.selector, ethKey, 1, creator)
        );
        splitter.release(ethKey, 1, creator);
        vm.expectRevert(
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterNotPayee.selector, ethKey, 2, alice)
        );
        splitter.release(ethKey, 2, alice);
    }

    function test_release_worksWhilePaused() public {
        _settle(ETH, "r", _item(ethKey, 1, 10));
        vm.prank(pauser);
        splitter.pause();
        assertEq(splitter.release(ethKey, 1, carol), 2 gwei);
    }

    function test_release_oneWeiPaymentsRoundNobodyAway() public {
        bytes32 key = _oneWeiSplit();
        // 1 wei per settlement: splitting each separately would pay carol (1%) nothing, ever.
        for (uint256 i = 1; i <= 100; ++i) {
            _settle(ETH, _nextRoot(), _item(key, 1, 1));
            if (i % 7 == 0) _releaseIfDue(key, alice);
        }
        assertEq(splitter.release(key, 1, carol), 1);
        assertEq(splitter.releasable(key, 1, bob), 33);
        _releaseIfDue(key, alice);
        assertEq(splitter.released(key, 1, alice), 66);
        // The 3 shares are 66/33/1 of 100: nothing is left over once the total is a multiple of 100.
        assertEq(splitter.releasable(key, 1, bob) + 66 + 1, 100);
    }

    function test_releaseBatch_paysOnceAcrossSplitsAndVersions() public {
        bytes32 second = _createSplit("asset-3", ETH, 2 gwei);
        _allow(buyer, ETH, second, 2 gwei, 10 ether);
        _settle(ETH, "r1", _item(ethKey, 1, 100));
        _settle(ETH, "r2", _item(second, 1, 100));
        _createSplit(ASSET, ETH, 1 gwei);
        _settle(ETH, "r3", _item(ethKey, 2, 100));

        IRoyaltySplitter.SplitRef[] memory refs = new IRoyaltySplitter.SplitRef[](4);
        refs[0] = IRoyaltySplitter.SplitRef(ethKey, 1);
        refs[1] = IRoyaltySplitter.SplitRef(second, 1);
        refs[2] = IRoyaltySplitter.SplitRef(ethKey, 2);
        refs[3] = IRoyaltySplitter.SplitRef(ethKey, 1);
        assertEq(splitter.releaseBatch(alice, ETH, refs), 50 gwei + 100 gwei + 50 gwei);
        assertEq(alice.balance, 200 gwei);
        assertEq(splitter.releasable(ethKey, 1, alice), 0);
    }

    function test_releaseBatch_revertsOnTokenMismatch() public {
        IRoyaltySplitter.SplitRef[] memory refs = new IRoyaltySplitter.SplitRef[](2);
        refs[0] = IRoyaltySplitter.SplitRef(ethKey, 1);
        refs[1] = IRoyaltySplitter.SplitRef(tokenKey, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterTokenMismatch.selector, 1, address(token))
        );
        splitter.releaseBatch(alice, ETH, refs);
    }

    function test_releaseBatch_revertsWhenNothingDueOrNotPayee() public {
        IRoyaltySplitter.SplitRef[] memory refs = new IRoyaltySplitter.SplitRef[](1);
        refs[0] = IRoyaltySplitter.SplitRef(ethKey, 1);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterNothingDue.selector, alice));
        splitter.releaseBatch(alice, ETH, refs);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterNothingDue.selector, alice));
        splitter.releaseBatch(alice, ETH, new IRoyaltySplitter.SplitRef[](0));
        _settle(ETH, "r", _item(ethKey, 1, 1));
        vm.expectRevert(
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterNotPayee.selector, ethKey, 1, buyer)
        );
        splitter.releaseBatch(buyer, ETH, refs);
    }

    // ------------------------------------------------------------ hostile payees

    function test_rejectingPayee_blocksNobodyElse() public {
        RejectingPayee rejecting = new RejectingPayee();
        bytes32 key = _splitWith(address(rejecting));
        _settle(ETH, "r", _item(key, 1, 100));
        vm.expectRevert(abi.encodeWithSignature("RejectingPayeeRefused()"));
        splitter.release(key, 1, address(rejecting));
        assertEq(splitter.release(key, 1, alice), 50 gwei);
        assertEq(splitter.release(key, 1, bob), 30 gwei);
        assertEq(splitter.releasable(key, 1, address(rejecting)), 20 gwei);
    }

    function test_reentrantPayee_cannotReleaseTwice() public {
        ReentrantPayee attacker = new ReentrantPayee(splitter);
        bytes32 key = _splitWith(address(attacker));
        _settle(ETH, "r", _item(key, 1, 100));
        attacker.setReentry(abi.encodeCall(IRoyaltySplitter.release, (key, 1, address(attacker))));
        assertEq(splitter.release(key, 1, address(attacker)), 20 gwei);
        _assertReentryBlocked(attacker, 20 gwei);
        assertEq(splitter.release(key, 1, alice), 50 gwei);
    }

    function test_reentrantPayee_cannotReenterBatchOrWithdraw() public {
        ReentrantPayee attacker = new ReentrantPayee(splitter);
        bytes32 key = _splitWith(address(attacker));
        _settle(ETH, "r", _item(key, 1, 100));
        IRoyaltySplitter.SplitRef[] memory refs = new IRoyaltySplitter.SplitRef[](1);
        refs[0] = IRoyaltySplitter.SplitRef(key, 1);
        attacker.setReentry(abi.encodeCall(IRoyaltySplitter.releaseBatch, (address(attacker), ETH, refs)));
        splitter.release(key, 1, address(attacker));
        _assertReentryBlocked(attacker, 20 gwei);

        _settle(ETH, "r2", _item(key, 1, 100));
        attacker.setReentry(abi.encodeCall(IRoyaltySplitter.withdrawDeposit, (ETH, address(attacker))));
        splitter.releaseBatch(address(attacker), ETH, refs);
        _assertReentryBlocked(attacker, 40 gwei);
    }

    function test_reentrantPayee_plainPayeeReceivesNormally() public {
        ReentrantPayee payee = new ReentrantPayee(splitter);
        bytes32 key = _splitWith(address(payee));
        _settle(ETH, "r", _item(key, 1, 100));
        splitter.release(key, 1, address(payee));
        assertEq(payee.received(), 20 gwei);
    }

    // ------------------------------------------------------------ fuzz

    /// @dev Over any sequence of payments, each payee's due is floor(total * share / 10_000):
    /// less than 1 wei below its exact share, and the remainder of all payees is below their count.
    function testFuzz_release_roundingStaysBelowOneWeiPerPayee(uint16 s0, uint16 s1, uint256 seed) public {
        uint16[] memory shares = new uint16[](3);
        shares[0] = uint16(_bound(s0, 1, 9998));
        shares[1] = uint16(_bound(s1, 1, 9999 - shares[0]));
        shares[2] = uint16(10_000 - shares[0] - shares[1]);
        address[] memory payees = new address[](3);
        (payees[0], payees[1], payees[2]) = (alice, bob, carol);
        vm.prank(creator);
        bytes32 key = splitter.setSplit(_terms("fuzz", 1, ETH, 1, payees, shares));
        _allow(buyer, ETH, key, 1, type(uint128).max);

        uint256 total = 0;
        uint256[3] memory paid;
        for (uint256 i = 0; i < 12; ++i) {
            seed = uint256(keccak256(abi.encode(seed, i)));
            uint256 units = _bound(seed, 1, seed % 4 == 0 ? 1e15 : 3);
            _settle(ETH, _nextRoot(), _item(key, 1, units));
            total += units;
            uint256 who = (seed >> 128) % 3;
            if (splitter.releasable(key, 1, payees[who]) != 0) {
                paid[who] += splitter.release(key, 1, payees[who]);
            }
        }
        uint256 owed = 0;
        for (uint256 j = 0; j < 3; ++j) {
            uint256 entitled = paid[j] + splitter.releasable(key, 1, payees[j]);
            assertEq(entitled, total * shares[j] / 10_000);
            assertEq(payees[j].balance, paid[j]);
            owed += entitled;
        }
        assertLte(owed, total);
        assertLt(total - owed, 3);
    }

    function testFuzz_release_erc20PaysExactShare(uint96 units, uint16 share) public {
        units = uint96(_bound(units, 1, 1e22));
        uint16[] memory shares = new uint16[](2);
        shares[0] = uint16(_bound(share, 1, 9999));
        shares[1] = 10_000 - shares[0];
        address[] memory payees = new address[](2);
        (payees[0], payees[1]) = (alice, bob);
        vm.prank(creator);
        bytes32 key = splitter.setSplit(_terms("fuzz", 1, address(token), 10, payees, shares));
        _allow(buyer, address(token), key, 10, type(uint128).max);
        _settle(address(token), "root", _item(key, 1, units));
        uint256 total = uint256(units) * 10;
        uint256 due = total * shares[0] / 10_000;
        if (due != 0) assertEq(splitter.release(key, 1, alice), due);
        assertEq(token.balanceOf(alice), due);
        uint256 bobDue = total * shares[1] / 10_000;
        if (bobDue != 0) assertEq(splitter.release(key, 1, bob), bobDue);
        assertEq(token.balanceOf(bob), bobDue);
        assertLt(total - due - bobDue, 2);
    }

    // ------------------------------------------------------------ helpers

    function _assertReentryBlocked(ReentrantPayee attacker, uint256 expectedReceived) private {
        assertFalse(attacker.reentrySucceeded());
        assertEq(attacker.reentryError(), abi.encodeWithSignature("ReentrancyGuardReentrantCall()"));
        assertEq(attacker.received(), expectedReceived);
        assertEq(address(attacker).balance, expectedReceived);
    }

    /// @dev alice 50%, bob 30%, `third` 20%, ETH at 1 gwei per unit, accepted by the buyer.
    function _splitWith(address third) private returns (bytes32 key) {
        (address[] memory payees, uint16[] memory shares) = _threePayees();
        payees[2] = third;
        vm.prank(creator);
        key = splitter.setSplit(_terms("hostile", 1, ETH, 1 gwei, payees, shares));
        _allow(buyer, ETH, key, 1 gwei, 10 ether);
    }

    /// @dev alice 66%, bob 33%, carol 1%, 1 wei per unit.
    function _oneWeiSplit() private returns (bytes32 key) {
        (address[] memory payees, uint16[] memory shares) = _threePayees();
        (shares[0], shares[1], shares[2]) = (6600, 3300, 100);
        vm.prank(creator);
        key = splitter.setSplit(_terms("one-wei", 1, ETH, 1, payees, shares));
        _allow(buyer, ETH, key, 1, 10 ether);
    }

    function _releaseIfDue(bytes32 key, address payee) private {
        if (splitter.releasable(key, 1, payee) != 0) splitter.release(key, 1, payee);
    }

    function _nextRoot() private returns (bytes32) {
        return keccak256(abi.encode("root", ++_rootNonce));
    }
}
