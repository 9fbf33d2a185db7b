// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {RoyaltySplitter} from "../src/RoyaltySplitter.sol";
import {IRoyaltySplitter} from "../src/interfaces/IRoyaltySplitter.sol";
import {SplitterBase} from "./splitter/SplitterBase.sol";
import {WithdrawalHandler} from "./splitter/WithdrawalHandler.sol";

/// @dev Issue 11: withdrawals cannot escape metered usage; a new split version cannot block a
/// settlement; split-terms signatures can be cancelled.
contract RoyaltySplitterWithdrawalTest is SplitterBase {
    bytes32 internal key;

    function setUp() public override {
        super.setUp();
        key = _createSplit(ASSET, ETH, 1 gwei);
        _allow(buyer, ETH, key, 1 gwei, type(uint256).max);
    }

    // ------------------------------------------------------------ the two escapes

    /// @dev The audit's attack: ask for everything with an empty deposit, wait out the notice,
    /// deposit, use the service, and take the deposit back before settlement.
    function test_escape_requestWhileEmptyThenDeposit_cannotWithdraw() public {
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.WithdrawalRequested(buyer, ETH, 0, 0);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, type(uint256).max);
        vm.warp(block.timestamp + NOTICE);
        _deposit(buyer, ETH, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterNoWithdrawalRequested.selector));
        vm.prank(buyer);
        splitter.withdrawDeposit(ETH, buyer);
        assertEq(_settle(ETH, ROOT, _item(key, 1, 5 ether / 1 gwei)), 5 ether);
    }

    /// @dev A funded request kept armed: only what was deposited when it was made can leave,
    /// and only within the window after the notice.
    function test_escape_armedRequestTakesOnlyTheDepositAtRequestTime() public {
        _deposit(buyer, ETH, 1 ether);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, type(uint256).max);
        assertEq(splitter.account(buyer, ETH).pendingWithdrawal, 1 ether);
        vm.warp(block.timestamp + NOTICE);
        _deposit(buyer, ETH, 10 ether);
        vm.prank(buyer);
        assertEq(splitter.withdrawDeposit(ETH, buyer), 1 ether);
        assertEq(_settle(ETH, ROOT, _item(key, 1, 5 ether / 1 gwei)), 5 ether);
        assertEq(splitter.account(buyer, ETH).deposit, 5 ether);
    }

    function test_escape_armedRequestKeptForWeeksLapses() public {
        _deposit(buyer, ETH, 10 ether);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, type(uint256).max);
        uint64 at = uint64(block.timestamp) + NOTICE;
        vm.warp(block.timestamp + 3 weeks);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterWithdrawalLapsed.selector, at + NOTICE));
        vm.prank(buyer);
        splitter.withdrawDeposit(ETH, buyer);
        assertEq(_settle(ETH, ROOT, _item(key, 1, 5 ether / 1 gwei)), 5 ether);
    }

    function test_withdrawDeposit_openForOneNoticePeriodAfterWithdrawableAt() public {
        _deposit(buyer, ETH, 1 ether);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, 1 ether);
        uint64 at = uint64(block.timestamp) + NOTICE;
        vm.warp(at + NOTICE);
        IRoyaltySplitter.BuyerAccount memory acct = splitter.account(buyer, ETH);
        assertEq(acct.pendingWithdrawal, 0, "a lapsed request is not shown");
        assertEq(uint256(acct.withdrawableAt), 0);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterWithdrawalLapsed.selector, at + NOTICE));
        vm.prank(buyer);
        splitter.withdrawDeposit(ETH, buyer);

        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, 1 ether);
        vm.warp(block.timestamp + 2 * NOTICE - 1);
        vm.prank(buyer);
        assertEq(splitter.withdrawDeposit(ETH, buyer), 1 ether);
    }

    function test_requestWithdrawal_isFixedAtTheDepositThen() public {
        _deposit(buyer, ETH, 1 ether);
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.WithdrawalRequested(buyer, ETH, 1 ether, uint64(block.timestamp) + NOTICE);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, 5 ether);
        _deposit(buyer, ETH, 4 ether);
        assertEq(splitter.account(buyer, ETH).pendingWithdrawal, 1 ether);
    }

    function testFuzz_depositDuringRequest_neverWithdrawableUnderIt(uint96 first, uint96 later, uint256 requested)
        public
    {
        uint256 a = _bound(first, 1, 1e27);
        uint256 b = _bound(later, 1, 1e27);
        _deposit(buyer, ETH, a);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, requested);
        vm.warp(block.timestamp + NOTICE);
        _deposit(buyer, ETH, b);
        vm.prank(buyer);
        try splitter.withdrawDeposit(ETH, buyer) returns (uint256 paid) {
            assertLte(paid, a);
        } catch {
            assertEq(requested, 0);
        }
        assertGte(splitter.account(buyer, ETH).deposit, b);
    }

    // ------------------------------------------------------------ a new version during settlement

    /// @dev A split owner front-runs `settle` with a new version: its item is skipped and not
    /// charged, the others settle.
    function test_settle_frontRunByNewVersionSkipsOnlyThatItem() public {
        bytes32 other = _createSplit("asset-2", ETH, 2 gwei);
        _allow(buyer, ETH, other, 2 gwei, type(uint256).max);
        _deposit(buyer, ETH, 1 ether);
        IRoyaltySplitter.UsageItem[] memory items = new IRoyaltySplitter.UsageItem[](2);
        items[0] = IRoyaltySplitter.UsageItem(key, 1, 10);
        items[1] = IRoyaltySplitter.UsageItem(other, 1, 10);
        _createSplit(ASSET, ETH, 1 gwei); // the front-run

        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.UsageItemSkipped(buyer, ETH, ROOT, 0, key, 1);
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.UsageSettled(buyer, ETH, ROOT, items, 20 gwei);
        assertEq(_settle(ETH, ROOT, items), 20 gwei);
        assertEq(splitter.splitVersion(key, 1).totalReceived, 0);
        assertEq(splitter.splitVersion(other, 1).totalReceived, 20 gwei);
        assertEq(splitter.account(buyer, ETH).spent, 20 gwei);
        assertTrue(splitter.isSettled(ROOT, buyer, ETH));
    }

    function test_quote_skipsSupersededItems() public {
        _deposit(buyer, ETH, 1 ether);
        _createSplit(ASSET, ETH, 1 gwei);
        assertEq(splitter.quote(buyer, ETH, ROOT, _item(key, 1, 10)), 0);
    }

    /// @dev The buyer signed for every item; a skipped one lowers what it pays, never raises it.
    function test_settleCosigned_skipsSupersededItemUnderTheSignedTotal() public {
        bytes32 other = _createSplit("asset-2", ETH, 2 gwei);
        _allow(buyer, ETH, other, 2 gwei, type(uint256).max);
        _deposit(buyer, ETH, 1 ether);
        vm.prank(buyer);
        splitter.setCosigning(ETH, true);
        vm.warp(block.timestamp + NOTICE);
        IRoyaltySplitter.UsageItem[] memory items = new IRoyaltySplitter.UsageItem[](2);
        items[0] = IRoyaltySplitter.UsageItem(key, 1, 10);
        items[1] = IRoyaltySplitter.UsageItem(other, 1, 10);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _signSettlement(buyerKey, buyer, ETH, ROOT, items, 30 gwei, deadline);
        _createSplit("asset-2", ETH, 2 gwei);
        vm.prank(meter);
        assertEq(splitter.settleCosigned(buyer, ETH, ROOT, items, deadline, sig), 10 gwei);
        assertEq(splitter.account(buyer, ETH).spent, 10 gwei);
    }

    // ------------------------------------------------------------ cancelling split terms

    function test_cancelSplitTerms_stopsTheSignatureAndNotCorrectedTerms() public {
        (address[] memory payees, uint16[] memory shares) = _threePayees();
        IRoyaltySplitter.SplitTerms memory wrong = _terms("asset-3", 1, ETH, 99 gwei, payees, shares);
        IRoyaltySplitter.SplitTerms memory right = _terms("asset-3", 1, ETH, 1 gwei, payees, shares);
        uint256 deadline = block.timestamp + 1 days;
        bytes32 digest = splitter.splitTermsDigest(creator, wrong, deadline);
        bytes memory wrongSig = _sign(creatorKey, digest);

        vm.prank(alice); // a stranger's cancellation cancels nothing of the creator's
        splitter.cancelSplitTerms(digest);
        assertFalse(splitter.splitTermsCancelled(creator, digest));

        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.SplitTermsCancelled(creator, digest);
        vm.prank(creator);
        splitter.cancelSplitTerms(digest);
        assertTrue(splitter.splitTermsCancelled(creator, digest));

        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterSplitTermsCancelled.selector, digest));
        splitter.setSplitWithSig(creator, wrong, deadline, wrongSig);
        bytes memory rightSig = _sign(creatorKey, splitter.splitTermsDigest(creator, right, deadline));
        bytes32 k = splitter.setSplitWithSig(creator, right, deadline, rightSig);
        assertEq(splitter.splitVersion(k, 1).pricePerUnit, 1 gwei);
    }

    function _sign(uint256 pk, bytes32 digest) private pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }
}

/// @dev Invariant: usage metered before a withdrawal becomes payable can always be settled, and
/// the deposit always covers what is metered and unsettled, whatever the buyer does.
contract RoyaltySplitterWithdrawalInvariantTest is PRBTest {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    WithdrawalHandler internal handler;
    RoyaltySplitter internal splitter;

    function setUp() public {
        vm.warp(1_700_000_000);
        splitter = new RoyaltySplitter(address(this), 1 days);
        handler = new WithdrawalHandler(splitter);
        splitter.grantRole(splitter.METER_ROLE(), address(handler));
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](8);
        selectors[0] = WithdrawalHandler.deposit.selector;
        selectors[1] = WithdrawalHandler.requestWithdrawal.selector;
        selectors[2] = WithdrawalHandler.withdrawDeposit.selector;
        selectors[3] = WithdrawalHandler.meter.selector;
        selectors[4] = WithdrawalHandler.meter.selector;
        selectors[5] = WithdrawalHandler.settle.selector;
        selectors[6] = WithdrawalHandler.warp.selector;
        selectors[7] = WithdrawalHandler.withdrawDeposit.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), selectors);
    }

    function invariant_meteredUsageIsAlwaysSettleable() public {
        assertFalse(handler.settlementFailed(), "a settlement of metered usage reverted");
        assertGte(splitter.account(handler.buyer(), address(0)).deposit, handler.unsettled());
    }
}
