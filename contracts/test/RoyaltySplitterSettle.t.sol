// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRoyaltySplitter} from "../src/interfaces/IRoyaltySplitter.sol";
import {SplitterBase} from "./splitter/SplitterBase.sol";

/// @dev Metered settlement, its caps and checks, `quote`, and pausing.
contract RoyaltySplitterSettleTest is SplitterBase {
    bytes32 internal key;

    function setUp() public override {
        super.setUp();
        key = _createSplit(ASSET, address(token), 10);
        _fund(address(token), key, 10, 1000);
    }

    function test_settle_movesDepositToSplitRevenue() public {
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.UsageSettled(buyer, address(token), ROOT, _item(key, 1, 7), 70);
        assertEq(_settle(address(token), ROOT, _item(key, 1, 7)), 70);

        IRoyaltySplitter.BuyerAccount memory acct = splitter.account(buyer, address(token));
        assertEq(acct.deposit, 930);
        assertEq(acct.spent, 70);
        assertEq(splitter.splitVersion(key, 1).totalReceived, 70);
        assertTrue(splitter.isSettled("root", buyer, address(token)));
        assertEq(splitter.releasable(key, 1, alice), 35);
        assertEq(splitter.releasable(key, 1, bob), 21);
        assertEq(splitter.releasable(key, 1, carol), 14);
    }

    function test_settle_chargesManyItemsAcrossSplits() public {
        bytes32 other = _createSplit("asset-2", address(token), 3);
        _allow(buyer, address(token), other, 3, 1000);
        IRoyaltySplitter.UsageItem[] memory items = new IRoyaltySplitter.UsageItem[](3);
        items[0] = IRoyaltySplitter.UsageItem(key, 1, 5);
        items[1] = IRoyaltySplitter.UsageItem(other, 1, 10);
        items[2] = IRoyaltySplitter.UsageItem(key, 1, 1);
        assertEq(_settle(address(token), "root", items), 90);
        assertEq(splitter.splitVersion(key, 1).totalReceived, 60);
        assertEq(splitter.splitVersion(other, 1).totalReceived, 30);
        assertEq(splitter.account(buyer, address(token)).deposit, 910);
    }

    function test_settle_requiresMeterRole() public {
        vm.expectRevert(
            abi.encodeWithSignature(
                "AccessControlUnauthorizedAccount(address,bytes32)", address(this), splitter.METER_ROLE()
            )
        );
        splitter.settle(buyer, address(token), "root", _item(key, 1, 1));
    }

    function test_settle_revertsWhenPaused() public {
        vm.prank(pauser);
        splitter.pause();
        vm.expectRevert(abi.encodeWithSignature("EnforcedPause()"));
        _settle(address(token), "root", _item(key, 1, 1));

        vm.prank(pauser);
        splitter.unpause();
        _settle(address(token), "root", _item(key, 1, 1));
    }

    function test_pause_requiresPauserRole() public {
        vm.expectRevert(
            abi.encodeWithSignature(
                "AccessControlUnauthorizedAccount(address,bytes32)", meter, splitter.PAUSER_ROLE()
            )
        );
        vm.prank(meter);
        splitter.pause();
        vm.prank(pauser);
        splitter.pause();
        vm.expectRevert(
            abi.encodeWithSignature(
                "AccessControlUnauthorizedAccount(address,bytes32)", meter, splitter.PAUSER_ROLE()
            )
        );
        vm.prank(meter);
        splitter.unpause();
    }

    function test_settle_sameRootTwiceReverts() public {
        _settle(address(token), "root", _item(key, 1, 1));
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoyaltySplitter.RoyaltySplitterAlreadySettled.selector, ROOT, buyer, address(token)
            )
        );
        _settle(address(token), "root", _item(key, 1, 2));
    }

    function test_settle_sameRootForAnotherBuyerIsAnotherSettlement() public {
        _settle(address(token), "root", _item(key, 1, 1));
        address other = address(0x0B2);
        _deposit(other, address(token), 100);
        _allow(other, address(token), key, 10, 100);
        vm.prank(meter);
        splitter.settle(other, address(token), "root", _item(key, 1, 1));
        assertTrue(splitter.isSettled("root", other, address(token)));
        assertFalse(splitter.isSettled("root", other, ETH));
    }

    function test_settle_revertsOnEmptyItems() public {
        _expectSettleRevert(
            new IRoyaltySplitter.UsageItem[](0),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterEmptySettlement.selector)
        );
    }

    function test_settle_revertsOnUnknownVersion() public {
        _expectSettleRevert(
            _item(key, 2, 1),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterUnknownVersion.selector, 0, key, 2)
        );
        bytes32 unknown = "nope";
        _expectSettleRevert(
            _item(unknown, 1, 1),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterUnknownVersion.selector, 0, unknown, 1)
        );
    }

    function test_settle_skipsSupersededVersion() public {
        _createSplit(ASSET, address(token), 10);
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.UsageItemSkipped(buyer, address(token), "root", 0, key, 1);
        assertEq(_settle(address(token), "root", _item(key, 1, 1)), 0);
        assertEq(splitter.splitVersion(key, 1).totalReceived, 0);
        _settle(address(token), "root2", _item(key, 2, 1));
    }

    function test_settle_revertsOnTokenMismatch() public {
        bytes32 ethKey = _createSplit("eth-asset", ETH, 10);
        _allow(buyer, address(token), ethKey, 10, 1000);
        IRoyaltySplitter.UsageItem[] memory items = new IRoyaltySplitter.UsageItem[](2);
        items[0] = IRoyaltySplitter.UsageItem(key, 1, 1);
        items[1] = IRoyaltySplitter.UsageItem(ethKey, 1, 1);
        _expectSettleRevert(
            items, abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterTokenMismatch.selector, 1, ETH)
        );
    }

    function test_settle_revertsOnZeroUnits() public {
        _expectSettleRevert(
            _item(key, 1, 0), abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterZeroUnits.selector, 0)
        );
    }

    function test_settle_revertsWhenPriceAboveBuyerMax() public {
        _allow(buyer, address(token), key, 9, 1000);
        // The cut waits for the notice period: usage metered under the old maximum still settles.
        _settle(address(token), "before the cut", _item(key, 1, 1));
        vm.warp(block.timestamp + NOTICE);
        _expectSettleRevert(
            _item(key, 1, 1),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterPriceAboveCap.selector, 0, 10, 9)
        );
        bytes32 unapproved = _createSplit("asset-2", address(token), 1);
        _expectSettleRevert(
            _item(unapproved, 1, 1),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterPriceAboveCap.selector, 0, 1, 0)
        );
    }

    function test_settle_newVersionAboveBuyerMaxIsRefused() public {
        (address[] memory payees, uint16[] memory shares) = _threePayees();
        vm.prank(creator);
        splitter.setSplit(_terms(ASSET, 2, address(token), 11, payees, shares));
        _expectSettleRevert(
            _item(key, 2, 1),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterPriceAboveCap.selector, 0, 11, 10)
        );
    }

    function test_settle_revertsOverSpendingCap() public {
        vm.prank(buyer);
        splitter.setSpendingCap(address(token), 100);
        vm.warp(block.timestamp + NOTICE);
        _settle(address(token), "r1", _item(key, 1, 6));
        _expectSettleRevert(
            _item(key, 1, 5),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterSpendingCapExceeded.selector, 110, 100)
        );
        _settle(address(token), "r2", _item(key, 1, 4));
        assertEq(splitter.account(buyer, address(token)).spent, 100);
    }

    function test_settle_revertsOnInsufficientDeposit() public {
        vm.prank(buyer);
        splitter.setSpendingCap(address(token), 10_000);
        _expectSettleRevert(
            _item(key, 1, 101),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInsufficientDeposit.selector, 1010, 1000)
        );
    }

    function test_settle_refusedForCosigningBuyer() public {
        vm.prank(buyer);
        splitter.setCosigning(address(token), true);
        // The opt-in waits for the notice period: usage metered until then still settles.
        _settle(address(token), "before co-signing", _item(key, 1, 1));
        vm.warp(block.timestamp + NOTICE);
        _expectSettleRevert(
            _item(key, 1, 1),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterCosignatureRequired.selector, buyer)
        );
    }

    function test_settle_revertsOnAccrualOverflow() public {
        bytes32 pricey = _createSplit("pricey", address(token), type(uint96).max);
        _deposit(buyer, address(token), type(uint128).max - 1000);
        _allow(buyer, address(token), pricey, type(uint96).max, type(uint128).max);
        uint256 units = uint256(type(uint128).max) / type(uint96).max + 1;
        vm.expectRevert(
            abi.encodeWithSignature("SafeCastOverflowedUintDowncast(uint8,uint256)", 128, units * type(uint96).max)
        );
        _settle(address(token), "root", _item(pricey, 1, units));
    }

    // ------------------------------------------------------------ quote

    function test_quote_returnsWhatSettleCharges() public {
        IRoyaltySplitter.UsageItem[] memory items = _item(key, 1, 42);
        uint256 quoted = splitter.quote(buyer, address(token), "root", items);
        assertEq(quoted, _settle(address(token), "root", items));
    }

    function test_quote_revertsLikeSettle() public {
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterEmptySettlement.selector));
        splitter.quote(buyer, address(token), "root", new IRoyaltySplitter.UsageItem[](0));
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterZeroUnits.selector, 0));
        splitter.quote(buyer, address(token), "root", _item(key, 1, 0));
        vm.prank(buyer);
        splitter.setSpendingCap(address(token), 5000);
        vm.expectRevert(
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInsufficientDeposit.selector, 1010, 1000)
        );
        splitter.quote(buyer, address(token), "root", _item(key, 1, 101));
        vm.expectRevert(
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterSpendingCapExceeded.selector, 5010, 5000)
        );
        splitter.quote(buyer, address(token), "root", _item(key, 1, 501));
        _settle(address(token), "root", _item(key, 1, 1));
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoyaltySplitter.RoyaltySplitterAlreadySettled.selector, ROOT, buyer, address(token)
            )
        );
        splitter.quote(buyer, address(token), "root", _item(key, 1, 1));
    }

    // ------------------------------------------------------------ fuzz

    function testFuzz_settle_chargesUnitsTimesPrice(uint96 price, uint64 units, uint96 maxPrice) public {
        price = uint96(_bound(price, 1, type(uint96).max));
        units = uint64(_bound(units, 0, (uint256(1) << 127) / price));
        bytes32 k = _createSplit("fuzz", address(token), price);
        uint256 cost = uint256(units) * price;
        _deposit(buyer, address(token), cost + 1);
        _allow(buyer, address(token), k, maxPrice, type(uint128).max);
        vm.prank(meter);
        try splitter.settle(buyer, address(token), "root", _item(k, 1, units)) returns (uint256 total) {
            assertEq(total, cost);
            assertLte(uint256(price), uint256(maxPrice));
            assertGt(uint256(units), 0);
            assertEq(splitter.splitVersion(k, 1).totalReceived, cost);
            assertEq(splitter.account(buyer, address(token)).deposit, 1001);
        } catch {
            assertTrue(price > maxPrice || units == 0);
            assertEq(splitter.account(buyer, address(token)).deposit, cost + 1001);
        }
    }

    function testFuzz_settle_neverExceedsCaps(uint256 cap, uint256 deposited, uint256 units, bool cut) public {
        address fresh = address(0xF2E5);
        cap = _bound(cap, 0, 5000);
        deposited = _bound(deposited, 1, 5000);
        units = _bound(units, 1, 600);
        _allow(fresh, address(token), key, 10, cut ? 6000 : cap);
        _deposit(fresh, address(token), deposited);
        if (cut) {
            vm.prank(fresh);
            splitter.setSpendingCap(address(token), cap);
            vm.warp(block.timestamp + NOTICE);
        }
        vm.prank(meter);
        try splitter.settle(fresh, address(token), ROOT, _item(key, 1, units)) returns (uint256 total) {
            assertEq(total, units * 10);
            assertLte(total, cap);
            assertLte(total, deposited);
        } catch {
            assertTrue(units * 10 > cap || units * 10 > deposited);
        }
    }

    function _expectSettleRevert(IRoyaltySplitter.UsageItem[] memory items, bytes memory err) private {
        vm.expectRevert(err);
        vm.prank(meter);
        splitter.settle(buyer, address(token), "root", items);
    }
}
