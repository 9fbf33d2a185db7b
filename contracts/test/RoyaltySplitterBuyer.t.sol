// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRoyaltySplitter} from "../src/interfaces/IRoyaltySplitter.sol";
import {SplitterBase} from "./splitter/SplitterBase.sol";
import {FeeOnTransferERC20, InflatingERC20, RejectingPayee} from "./splitter/SplitterMocks.sol";

/// @dev Deposits, caps, co-signing opt-in and withdrawals after the notice period.
contract RoyaltySplitterBuyerTest is SplitterBase {
    function test_deposit_creditsEth() public {
        vm.deal(buyer, 5 ether);
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.Deposited(buyer, ETH, 2 ether);
        vm.prank(buyer);
        splitter.deposit{value: 2 ether}(ETH, 2 ether);
        assertEq(splitter.account(buyer, ETH).deposit, 2 ether);
        assertEq(address(splitter).balance, 2 ether);
    }

    function test_deposit_creditsErc20() public {
        _deposit(buyer, address(token), 700);
        _deposit(buyer, address(token), 300);
        assertEq(splitter.account(buyer, address(token)).deposit, 1000);
        assertEq(token.balanceOf(address(splitter)), 1000);
    }

    function test_deposit_revertsOnZeroAmount() public {
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterZeroAmount.selector));
        vm.prank(buyer);
        splitter.deposit(ETH, 0);
    }

    function test_deposit_revertsOnEthAmountMismatch() public {
        vm.deal(buyer, 5 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterEthAmountMismatch.selector, 1 ether, 2 ether)
        );
        vm.prank(buyer);
        splitter.deposit{value: 1 ether}(ETH, 2 ether);

        token.mint(buyer, 10);
        vm.startPrank(buyer);
        token.approve(address(splitter), 10);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterEthAmountMismatch.selector, 1, 0));
        splitter.deposit{value: 1}(address(token), 10);
        vm.stopPrank();
    }

    function test_deposit_refusesFeeOnTransferToken() public {
        FeeOnTransferERC20 fee = new FeeOnTransferERC20();
        fee.mint(buyer, 1000);
        vm.startPrank(buyer);
        fee.approve(address(splitter), 1000);
        vm.expectRevert(
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterFeeOnTransfer.selector, address(fee), 1000, 990)
        );
        splitter.deposit(address(fee), 1000);
        vm.stopPrank();
        assertEq(splitter.account(buyer, address(fee)).deposit, 0);
        assertEq(fee.balanceOf(address(splitter)), 0);
    }

    function test_deposit_refusesTokenDeliveringMoreThanSent() public {
        InflatingERC20 inflating = new InflatingERC20();
        inflating.mint(buyer, 1000);
        vm.startPrank(buyer);
        inflating.approve(address(splitter), 1000);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoyaltySplitter.RoyaltySplitterFeeOnTransfer.selector, address(inflating), 1000, 1001
            )
        );
        splitter.deposit(address(inflating), 1000);
        vm.stopPrank();
    }

    function test_deposit_revertsWhenPaused() public {
        vm.prank(pauser);
        splitter.pause();
        vm.deal(buyer, 1 ether);
        vm.expectRevert(abi.encodeWithSignature("EnforcedPause()"));
        vm.prank(buyer);
        splitter.deposit{value: 1 ether}(ETH, 1 ether);
    }

    function test_setMaxPrices_setsEachAndEmits() public {
        bytes32[] memory keys = new bytes32[](2);
        keys[0] = "a";
        keys[1] = "b";
        uint256[] memory prices = new uint256[](2);
        (prices[0], prices[1]) = (5, 9);
        uint64 now_ = uint64(block.timestamp);
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.MaxPriceSet(buyer, ETH, keys[0], 5, now_);
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.MaxPriceSet(buyer, ETH, keys[1], 9, now_);
        vm.prank(buyer);
        splitter.setMaxPrices(ETH, keys, prices);
        assertEq(splitter.maxPricePerUnit(buyer, ETH, "a"), 5);
        assertEq(splitter.maxPricePerUnit(buyer, ETH, "b"), 9);
        assertEq(splitter.maxPricePerUnit(buyer, address(token), "a"), 0);
    }

    function test_setMaxPrices_clampsToAnyPrice() public {
        _setMaxPrice("a", type(uint256).max);
        assertEq(splitter.maxPricePerUnit(buyer, ETH, "a"), type(uint96).max);
    }

    function test_setMaxPrices_revertsOnLengthMismatch() public {
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterLengthMismatch.selector, 2, 1));
        vm.prank(buyer);
        splitter.setMaxPrices(ETH, new bytes32[](2), new uint256[](1));
    }

    function test_setMaxPrices_cutWaitsForNoticeWhenFunded() public {
        _deposit(buyer, ETH, 1 ether);
        _setMaxPrice("a", 10);
        uint64 from = uint64(block.timestamp) + NOTICE;
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.MaxPriceSet(buyer, ETH, "a", 4, from);
        _setMaxPrice("a", 4);
        assertEq(splitter.maxPricePerUnit(buyer, ETH, "a"), 10);
        (uint256 pending, uint64 at) = splitter.pendingMaxPrice(buyer, ETH, "a");
        assertEq(pending, 4);
        assertEq(uint256(at), uint256(from));

        vm.warp(from - 1);
        assertEq(splitter.maxPricePerUnit(buyer, ETH, "a"), 10);
        vm.warp(from);
        assertEq(splitter.maxPricePerUnit(buyer, ETH, "a"), 4);
        (pending, at) = splitter.pendingMaxPrice(buyer, ETH, "a");
        assertEq(pending, 0);
        assertEq(uint256(at), 0);
    }

    function test_setMaxPrices_raiseAppliesAtOnceAndCancelsCut() public {
        _deposit(buyer, ETH, 1 ether);
        _setMaxPrice("a", 10);
        _setMaxPrice("a", 4);
        _setMaxPrice("a", 12);
        assertEq(splitter.maxPricePerUnit(buyer, ETH, "a"), 12);
        (uint256 pending, uint64 at) = splitter.pendingMaxPrice(buyer, ETH, "a");
        assertEq(pending + at, 0);
        vm.warp(block.timestamp + NOTICE);
        assertEq(splitter.maxPricePerUnit(buyer, ETH, "a"), 12);
    }

    function test_setMaxPrices_secondCutRestartsNotice() public {
        _deposit(buyer, ETH, 1 ether);
        _setMaxPrice("a", 10);
        _setMaxPrice("a", 6);
        vm.warp(block.timestamp + NOTICE - 1);
        _setMaxPrice("a", 5);
        vm.warp(block.timestamp + 1);
        assertEq(splitter.maxPricePerUnit(buyer, ETH, "a"), 10);
        vm.warp(block.timestamp + NOTICE);
        assertEq(splitter.maxPricePerUnit(buyer, ETH, "a"), 5);
    }

    function test_setMaxPrices_cutWithoutDepositAppliesAtOnce() public {
        _setMaxPrice("a", 10);
        _setMaxPrice("a", 3);
        assertEq(splitter.maxPricePerUnit(buyer, ETH, "a"), 3);
    }

    function test_setSpendingCap_raiseAppliesAtOnceAndClamps() public {
        _deposit(buyer, ETH, 1 ether);
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.SpendingCapSet(buyer, ETH, 123, uint64(block.timestamp));
        vm.prank(buyer);
        splitter.setSpendingCap(ETH, 123);
        assertEq(splitter.account(buyer, ETH).spendingCap, 123);

        vm.prank(buyer);
        splitter.setSpendingCap(ETH, type(uint256).max);
        assertEq(splitter.account(buyer, ETH).spendingCap, type(uint128).max);
    }

    function test_setSpendingCap_cutWaitsForNoticeWhenFunded() public {
        _deposit(buyer, ETH, 1 ether);
        vm.startPrank(buyer);
        splitter.setSpendingCap(ETH, 500);
        uint64 from = uint64(block.timestamp) + NOTICE;
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.SpendingCapSet(buyer, ETH, 200, from);
        splitter.setSpendingCap(ETH, 200);
        vm.stopPrank();
        IRoyaltySplitter.BuyerAccount memory acct = splitter.account(buyer, ETH);
        assertEq(acct.spendingCap, 500);
        assertEq(acct.pendingSpendingCap, 200);
        assertEq(uint256(acct.pendingSpendingCapFrom), uint256(from));
        vm.warp(from);
        acct = splitter.account(buyer, ETH);
        assertEq(acct.spendingCap, 200);
        assertEq(acct.pendingSpendingCap, 0);
        assertEq(uint256(acct.pendingSpendingCapFrom), 0);
    }

    function test_setSpendingCap_cutWithoutDepositAppliesAtOnce() public {
        vm.startPrank(buyer);
        splitter.setSpendingCap(ETH, 500);
        splitter.setSpendingCap(ETH, 0);
        vm.stopPrank();
        assertEq(splitter.account(buyer, ETH).spendingCap, 0);
    }

    function test_setCosigning_withoutDepositAppliesAtOnce() public {
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.CosigningSet(buyer, ETH, true, uint64(block.timestamp));
        vm.prank(buyer);
        splitter.setCosigning(ETH, true);
        assertTrue(splitter.cosigning(buyer, ETH));
        assertFalse(splitter.cosigning(buyer, address(token)));
        IRoyaltySplitter.BuyerAccount memory acct = splitter.account(buyer, ETH);
        assertTrue(acct.cosigning);
        assertEq(uint256(acct.cosigningFrom), block.timestamp);

        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.CosigningSet(buyer, ETH, false, uint64(block.timestamp));
        vm.prank(buyer);
        splitter.setCosigning(ETH, false);
        assertFalse(splitter.cosigning(buyer, ETH));
        assertEq(uint256(splitter.account(buyer, ETH).cosigningFrom), 0);
    }

    function test_setCosigning_withDepositWaitsForNotice() public {
        _deposit(buyer, ETH, 1 ether);
        uint64 from = uint64(block.timestamp) + NOTICE;
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.CosigningSet(buyer, ETH, true, from);
        vm.prank(buyer);
        splitter.setCosigning(ETH, true);
        assertFalse(splitter.cosigning(buyer, ETH));
        vm.warp(from - 10);
        // Asking again keeps the earlier date.
        vm.prank(buyer);
        splitter.setCosigning(ETH, true);
        vm.warp(from);
        assertTrue(splitter.cosigning(buyer, ETH));
    }

    // ------------------------------------------------------------ withdrawals

    function test_requestWithdrawal_startsNoticePeriod() public {
        _deposit(buyer, ETH, 1 ether);
        uint64 at = uint64(block.timestamp) + NOTICE;
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.WithdrawalRequested(buyer, ETH, 0.4 ether, at);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, 0.4 ether);
        IRoyaltySplitter.BuyerAccount memory acct = splitter.account(buyer, ETH);
        assertEq(acct.pendingWithdrawal, 0.4 ether);
        assertEq(uint256(acct.withdrawableAt), uint256(at));
    }

    function test_withdrawDeposit_paysRequestedAmountAfterNotice() public {
        _deposit(buyer, ETH, 1 ether);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, 0.4 ether);
        vm.warp(block.timestamp + NOTICE);
        address to = address(0x70);
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.DepositWithdrawn(buyer, ETH, to, 0.4 ether);
        vm.prank(buyer);
        assertEq(splitter.withdrawDeposit(ETH, to), 0.4 ether);
        assertEq(to.balance, 0.4 ether);
        IRoyaltySplitter.BuyerAccount memory acct = splitter.account(buyer, ETH);
        assertEq(acct.deposit, 0.6 ether);
        assertEq(acct.pendingWithdrawal, 0);
        assertEq(uint256(acct.withdrawableAt), 0);
    }

    function test_withdrawDeposit_paysErc20() public {
        _deposit(buyer, address(token), 500);
        vm.prank(buyer);
        splitter.requestWithdrawal(address(token), type(uint256).max);
        vm.warp(block.timestamp + NOTICE);
        vm.prank(buyer);
        splitter.withdrawDeposit(address(token), buyer);
        assertEq(token.balanceOf(buyer), 500);
        assertEq(splitter.account(buyer, address(token)).deposit, 0);
    }

    function test_withdrawDeposit_revertsDuringNotice() public {
        _deposit(buyer, ETH, 1 ether);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, 1 ether);
        uint64 at = uint64(block.timestamp) + NOTICE;
        vm.warp(at - 1);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterNoticePending.selector, at));
        vm.prank(buyer);
        splitter.withdrawDeposit(ETH, buyer);
    }

    function test_withdrawDeposit_revertsWithoutRequest() public {
        _deposit(buyer, ETH, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterNoWithdrawalRequested.selector));
        vm.prank(buyer);
        splitter.withdrawDeposit(ETH, buyer);
    }

    function test_withdrawDeposit_revertsOnZeroRecipient() public {
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterZeroAddress.selector));
        vm.prank(buyer);
        splitter.withdrawDeposit(ETH, address(0));
    }

    function test_requestWithdrawal_zeroCancels() public {
        _deposit(buyer, ETH, 1 ether);
        vm.startPrank(buyer);
        splitter.requestWithdrawal(ETH, 1 ether);
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.WithdrawalRequested(buyer, ETH, 0, 0);
        splitter.requestWithdrawal(ETH, 0);
        vm.warp(block.timestamp + NOTICE);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterNoWithdrawalRequested.selector));
        splitter.withdrawDeposit(ETH, buyer);
        vm.stopPrank();
    }

    function test_requestWithdrawal_againRestartsNotice() public {
        _deposit(buyer, ETH, 1 ether);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, 1 ether);
        vm.warp(block.timestamp + NOTICE - 10);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, 0.5 ether);
        vm.warp(block.timestamp + 10);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoyaltySplitter.RoyaltySplitterNoticePending.selector, uint64(block.timestamp) - 10 + NOTICE
            )
        );
        vm.prank(buyer);
        splitter.withdrawDeposit(ETH, buyer);
    }

    function test_settlementDuringNotice_isAllowedAndShrinksWithdrawal() public {
        bytes32 key = _createSplit(ASSET, ETH, 1 gwei);
        _fund(ETH, key, 1 gwei, 1 ether);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, 1 ether);
        vm.warp(block.timestamp + 1 days);
        _settle(ETH, "root", _item(key, 1, 0.3 ether / 1 gwei));
        vm.warp(block.timestamp + NOTICE);
        vm.prank(buyer);
        assertEq(splitter.withdrawDeposit(ETH, buyer), 0.7 ether);
        assertEq(splitter.account(buyer, ETH).deposit, 0);
    }

    function test_withdrawDeposit_worksWhilePaused() public {
        _deposit(buyer, ETH, 1 ether);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, 1 ether);
        vm.prank(pauser);
        splitter.pause();
        vm.warp(block.timestamp + NOTICE);
        vm.prank(buyer);
        assertEq(splitter.withdrawDeposit(ETH, buyer), 1 ether);
    }

    function test_withdrawDeposit_revertsWhenRecipientRefusesEth() public {
        _deposit(buyer, ETH, 1 ether);
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, 1 ether);
        vm.warp(block.timestamp + NOTICE);
        address refusing = address(new RejectingPayee());
        vm.expectRevert(abi.encodeWithSignature("RejectingPayeeRefused()"));
        vm.prank(buyer);
        splitter.withdrawDeposit(ETH, refusing);
        assertEq(splitter.account(buyer, ETH).deposit, 1 ether);
    }

    function testFuzz_withdrawDeposit_paysMinOfRequestAndDeposit(uint128 deposited, uint256 requested, uint64 spend)
        public
    {
        uint256 amount = _bound(deposited, 1, 1e30);
        bytes32 key = _createSplit(ASSET, address(token), 1);
        _fund(address(token), key, 1, amount);
        // At least 1 left: a request over an empty deposit cancels (tested in RoyaltySplitterWithdrawal.t.sol).
        uint256 spent = _bound(spend, 0, amount - 1);
        if (spent != 0) _settle(address(token), "r", _item(key, 1, spent));
        requested = _bound(requested, 1, 2e30);
        vm.prank(buyer);
        splitter.requestWithdrawal(address(token), requested);
        vm.warp(block.timestamp + NOTICE);
        vm.prank(buyer);
        uint256 paid = splitter.withdrawDeposit(address(token), buyer);
        uint256 left = amount - spent;
        assertEq(paid, requested < left ? requested : left);
        assertEq(token.balanceOf(buyer), paid);
        assertEq(splitter.account(buyer, address(token)).deposit, left - paid);
        assertEq(token.balanceOf(address(splitter)), amount - paid);
    }

    function _setMaxPrice(bytes32 assetKey, uint256 maxPrice) private {
        bytes32[] memory keys = new bytes32[](1);
        keys[0] = assetKey;
        uint256[] memory prices = new uint256[](1);
        prices[0] = maxPrice;
        vm.prank(buyer);
        splitter.setMaxPrices(ETH, keys, prices);
    }
}
