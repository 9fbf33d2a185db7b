// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "@prb/test/Vm.sol";
import {RoyaltySplitter} from "../../src/RoyaltySplitter.sol";
import {IRoyaltySplitter} from "../../src/interfaces/IRoyaltySplitter.sol";

/**
 * @dev Drives one buyer's ETH account the way the buyer, the meter and the settler of the ledger
 * service do, for {RoyaltySplitterWithdrawalInvariantTest}. The meter meters usage while the
 * deposit covers it, less the amount of a payable withdrawal request (before the request is
 * payable it meters as if there were none: usage the service accepted before it saw the request,
 * or a service that settles faster than the notice period). The
 * settler settles everything metered before a request becomes payable: time never passes a
 * pending `withdrawableAt` without a settlement first, which must succeed.
 */
contract WithdrawalHandler {
    Vm private constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    address private constant ETH = address(0);

    RoyaltySplitter public immutable splitter;
    address public immutable buyer = address(0xB0);
    bytes32 public immutable assetKey;

    /// @dev Metered, not yet settled (1 wei a unit).
    uint256 public unsettled;
    /// @dev A settlement of metered usage reverted.
    bool public settlementFailed;
    uint256 public settlements;
    uint256 public withdrawals;

    constructor(RoyaltySplitter splitter_) {
        splitter = splitter_;
        address[] memory payees = new address[](1);
        payees[0] = address(0xC0);
        uint16[] memory shares = new uint16[](1);
        shares[0] = 10_000;
        assetKey = splitter_.setSplit(
            IRoyaltySplitter.SplitTerms({
                assetId: "asset",
                version: 1,
                manifestDigest: keccak256("manifest"),
                token: ETH,
                pricePerUnit: 1,
                payees: payees,
                shares: shares
            })
        );
        bytes32[] memory keys = new bytes32[](1);
        keys[0] = assetKey;
        uint256[] memory prices = new uint256[](1);
        prices[0] = 1;
        vm.startPrank(buyer);
        splitter_.setMaxPrices(ETH, keys, prices);
        splitter_.setSpendingCap(ETH, type(uint256).max);
        vm.stopPrank();
    }

    function deposit(uint256 amount) external {
        amount = 1 + amount % 1000;
        vm.deal(buyer, buyer.balance + amount);
        vm.prank(buyer);
        splitter.deposit{value: amount}(ETH, amount);
    }

    /// @dev Any amount, the whole deposit or more included, at any time.
    function requestWithdrawal(uint256 amount, bool all) external {
        vm.prank(buyer);
        splitter.requestWithdrawal(ETH, all ? type(uint256).max : amount % 2000);
    }

    function withdrawDeposit() external {
        vm.prank(buyer);
        try splitter.withdrawDeposit(ETH, buyer) {
            ++withdrawals;
        } catch {}
    }

    function meter(uint256 units) external {
        units = 1 + units % 300;
        IRoyaltySplitter.BuyerAccount memory acct = splitter.account(buyer, ETH);
        // Once a request is payable, the amount it names may leave at any moment.
        uint256 leaving =
            // forge-lint: disable-next-line(block-timestamp)
            acct.withdrawableAt != 0 && block.timestamp >= acct.withdrawableAt ? acct.pendingWithdrawal : 0;
        if (acct.deposit < leaving + unsettled + units) return;
        unsettled += units;
    }

    function settle() external {
        _settleAll();
    }

    function warp(uint256 seconds_) external {
        uint256 target = block.timestamp + seconds_ % 3 days;
        uint64 at = splitter.account(buyer, ETH).withdrawableAt;
        // forge-lint: disable-next-line(block-timestamp)
        if (at != 0 && block.timestamp < at && target >= at) {
            vm.warp(at - 1);
            _settleAll();
        }
        vm.warp(target);
    }

    function _settleAll() private {
        if (unsettled == 0) return;
        IRoyaltySplitter.UsageItem[] memory items = new IRoyaltySplitter.UsageItem[](1);
        items[0] = IRoyaltySplitter.UsageItem(assetKey, 1, unsettled);
        try splitter.settle(buyer, ETH, keccak256(abi.encode(settlements)), items) {
            ++settlements;
            unsettled = 0;
        } catch {
            settlementFailed = true;
        }
    }
}
