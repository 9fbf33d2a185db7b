// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {RoyaltySplitter} from "../src/RoyaltySplitter.sol";
import {IRoyaltySplitter} from "../src/interfaces/IRoyaltySplitter.sol";
import {SplitterHandler} from "./splitter/SplitterHandler.sol";
import {MockERC20} from "./splitter/SplitterMocks.sol";

/// @dev Invariants over random handler sequences: funds conserved to the wei with 1-wei payments
/// among 3 payees, rounding bounded, caps never exceeded, a usage root never settled twice.
/// Half the default runs: each invariant is checked after every call, and 4 x 32 x 64 calls
/// keep the suite near 20 seconds.
/// forge-config: default.invariant.runs = 32
contract RoyaltySplitterInvariantTest is PRBTest {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    RoyaltySplitter internal splitter;
    MockERC20 internal token;
    SplitterHandler internal handler;

    function setUp() public {
        splitter = new RoyaltySplitter(address(this), 1 days);
        token = new MockERC20("Token");
        handler = new SplitterHandler(splitter, token);
        splitter.grantRole(splitter.METER_ROLE(), address(handler));
        handler.fundAll();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](10);
        selectors[0] = SplitterHandler.deposit.selector;
        selectors[1] = SplitterHandler.setCaps.selector;
        selectors[2] = SplitterHandler.settle.selector;
        selectors[3] = SplitterHandler.settle.selector;
        selectors[4] = SplitterHandler.newVersion.selector;
        selectors[5] = SplitterHandler.release.selector;
        selectors[6] = SplitterHandler.releaseBatch.selector;
        selectors[7] = SplitterHandler.requestWithdrawal.selector;
        selectors[8] = SplitterHandler.withdrawDeposit.selector;
        selectors[9] = SplitterHandler.warp.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), selectors);
    }

    /// @dev Per token: deposits in = remaining deposits + accrued-unwithdrawn + withdrawn, and the
    /// contract holds exactly the remaining deposits plus the accrued-unwithdrawn revenue.
    function invariant_fundsAreConserved() public {
        _checkConservation(address(0));
        _checkConservation(address(token));
    }

    /// @dev What each payee was paid from a version plus what it can still release is exactly
    /// floor(total * share / 10_000): below its exact share by less than 1 wei, never above it;
    /// the remainder of the division, over all payees, is below their count.
    function invariant_roundingIsBounded() public {
        assertFalse(handler.paidOtherThanDue(), "releaseBatch paid other than the sum due");
        for (uint256 i = 0; i < handler.refCount(); ++i) {
            SplitterHandler.Ref memory ref = handler.refAt(i);
            uint256 total = splitter.splitVersion(ref.assetKey, ref.version).totalReceived;
            uint256 entitled = 0;
            for (uint256 p = 0; p < 3; ++p) {
                address payee = handler.payees(p);
                uint256 exact = total * splitter.shareOf(ref.assetKey, ref.version, payee) / 10_000;
                uint256 paid = handler.ghostPaid(i, payee);
                assertEq(splitter.released(ref.assetKey, ref.version, payee), paid);
                assertEq(paid + splitter.releasable(ref.assetKey, ref.version, payee), exact);
                entitled += exact;
            }
            assertLte(entitled, total);
            assertLt(total - entitled, handler.payeeCount());
        }
    }

    /// @dev No settlement charged beyond the deposit, the spending cap or a maximum price in force,
    /// and the limits in force follow the notice rule (checked against the handler's own model).
    function invariant_capsAreNeverExceeded() public {
        assertFalse(handler.capExceeded(), "spending cap or deposit exceeded");
        assertFalse(handler.priceAboveMax(), "price above the buyer's maximum");
        for (uint256 b = 0; b < 2; ++b) {
            address buyer = handler.buyers(b);
            address[2] memory tokens = [address(0), address(token)];
            for (uint256 t = 0; t < 2; ++t) {
                assertEq(splitter.account(buyer, tokens[t]).spendingCap, handler.modelCap(buyer, tokens[t]));
                bytes32 assetKey = handler.assetKeyOf(tokens[t]);
                assertEq(
                    splitter.maxPricePerUnit(buyer, tokens[t], assetKey), handler.modelMaxPrice(buyer, tokens[t])
                );
            }
        }
    }

    function invariant_rootIsNeverSettledTwice() public {
        assertFalse(handler.settledTwice(), "usage root settled twice");
    }

    function _checkConservation(address tok) private {
        uint256 remaining = 0;
        uint256 spent = 0;
        for (uint256 b = 0; b < 2; ++b) {
            IRoyaltySplitter.BuyerAccount memory acct = splitter.account(handler.buyers(b), tok);
            remaining += acct.deposit;
            spent += acct.spent;
        }
        uint256 accrued = 0;
        uint256 released = 0;
        uint256 paidOut = 0;
        for (uint256 i = 0; i < handler.refCount(); ++i) {
            SplitterHandler.Ref memory ref = handler.refAt(i);
            if (ref.token != tok) continue;
            accrued += splitter.splitVersion(ref.assetKey, ref.version).totalReceived;
            for (uint256 p = 0; p < 3; ++p) {
                released += splitter.released(ref.assetKey, ref.version, handler.payees(p));
            }
        }
        for (uint256 p = 0; p < 3; ++p) {
            address payee = handler.payees(p);
            paidOut += tok == address(0) ? payee.balance : token.balanceOf(payee);
        }
        uint256 held = tok == address(0) ? address(splitter).balance : token.balanceOf(address(splitter));

        assertEq(spent, accrued, "spent != accrued");
        assertEq(released, handler.ghostReleased(tok), "released != ghost");
        assertEq(paidOut, released, "paid out != released");
        assertEq(held, remaining + accrued - released, "held != deposits + unreleased");
        assertEq(
            handler.ghostDeposited(tok),
            remaining + (accrued - released) + released + handler.ghostBuyerWithdrawn(tok),
            "deposits in != remaining + accrued-unwithdrawn + withdrawn"
        );
    }
}
