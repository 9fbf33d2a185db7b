// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {RoyaltySplitter} from "../../src/RoyaltySplitter.sol";
import {IRoyaltySplitter} from "../../src/interfaces/IRoyaltySplitter.sol";
import {MockERC20} from "./SplitterMocks.sol";

/// @dev Shared set-up and helpers for the RoyaltySplitter tests.
abstract contract SplitterBase is PRBTest {
    uint64 internal constant NOTICE = 3 days;
    address internal constant ETH = address(0);
    bytes32 internal constant DIGEST = keccak256("manifest v1");
    bytes32 internal constant ASSET = keccak256("asset-1");
    bytes32 internal constant ROOT = "root";

    address internal admin = address(0xAD);
    address internal meter = address(0x3E7E);
    address internal pauser = address(0x9A05E);
    address internal alice = address(0xA11CE);
    address internal bob = address(0xB0B);
    address internal carol = address(0xCA401);

    uint256 internal creatorKey = 0xC4EA7;
    address internal creator;
    uint256 internal buyerKey = 0xB11E4;
    address internal buyer;

    RoyaltySplitter internal splitter;
    MockERC20 internal token;

    function setUp() public virtual {
        creator = vm.addr(creatorKey);
        buyer = vm.addr(buyerKey);
        splitter = new RoyaltySplitter(admin, NOTICE);
        token = new MockERC20("Token");
        vm.startPrank(admin);
        splitter.grantRole(splitter.METER_ROLE(), meter);
        splitter.grantRole(splitter.PAUSER_ROLE(), pauser);
        vm.stopPrank();
        vm.warp(1_700_000_000);
    }

    // ------------------------------------------------------------ builders

    function _terms(
        bytes32 assetId,
        uint32 version,
        address token_,
        uint96 price,
        address[] memory payees,
        uint16[] memory shares
    ) internal pure returns (IRoyaltySplitter.SplitTerms memory) {
        return IRoyaltySplitter.SplitTerms({
            assetId: assetId,
            version: version,
            manifestDigest: keccak256(abi.encode(DIGEST, version)),
            token: token_,
            pricePerUnit: price,
            payees: payees,
            shares: shares
        });
    }

    function _threePayees() internal view returns (address[] memory payees, uint16[] memory shares) {
        payees = new address[](3);
        (payees[0], payees[1], payees[2]) = (alice, bob, carol);
        shares = new uint16[](3);
        (shares[0], shares[1], shares[2]) = (5000, 3000, 2000);
    }

    /// @dev The creator's split for `assetId`: alice 50%, bob 30%, carol 20%.
    function _createSplit(bytes32 assetId, address token_, uint96 price) internal returns (bytes32 assetKey) {
        (address[] memory payees, uint16[] memory shares) = _threePayees();
        uint32 next = splitter.latestVersion(splitter.assetKeyOf(creator, assetId)) + 1;
        vm.prank(creator);
        assetKey = splitter.setSplit(_terms(assetId, next, token_, price, payees, shares));
    }

    function _item(bytes32 assetKey, uint32 version, uint256 units)
        internal
        pure
        returns (IRoyaltySplitter.UsageItem[] memory items)
    {
        items = new IRoyaltySplitter.UsageItem[](1);
        items[0] = IRoyaltySplitter.UsageItem({assetKey: assetKey, version: version, units: units});
    }

    // ------------------------------------------------------------ buyer side

    function _deposit(address who, address token_, uint256 amount) internal {
        if (token_ == ETH) {
            vm.deal(who, who.balance + amount);
            vm.prank(who);
            splitter.deposit{value: amount}(ETH, amount);
        } else {
            MockERC20(token_).mint(who, amount);
            vm.startPrank(who);
            MockERC20(token_).approve(address(splitter), amount);
            splitter.deposit(token_, amount);
            vm.stopPrank();
        }
    }

    function _allow(address who, address token_, bytes32 assetKey, uint256 maxPrice, uint256 cap) internal {
        bytes32[] memory keys = new bytes32[](1);
        keys[0] = assetKey;
        uint256[] memory prices = new uint256[](1);
        prices[0] = maxPrice;
        vm.startPrank(who);
        splitter.setMaxPrices(token_, keys, prices);
        splitter.setSpendingCap(token_, cap);
        vm.stopPrank();
    }

    /// @dev Deposits `amount` for `buyer`, accepts `assetKey` at up to `maxPrice`, caps spending at `amount`.
    function _fund(address token_, bytes32 assetKey, uint256 maxPrice, uint256 amount) internal {
        _deposit(buyer, token_, amount);
        _allow(buyer, token_, assetKey, maxPrice, amount);
    }

    function _settle(address token_, bytes32 root, IRoyaltySplitter.UsageItem[] memory items)
        internal
        returns (uint256)
    {
        vm.prank(meter);
        return splitter.settle(buyer, token_, root, items);
    }

    function _signSettlement(
        uint256 key,
        address buyer_,
        address token_,
        bytes32 root,
        IRoyaltySplitter.UsageItem[] memory items,
        uint256 total,
        uint256 deadline
    ) internal view returns (bytes memory) {
        bytes32 digest = splitter.settlementDigest(buyer_, token_, root, items, total, deadline);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    // ------------------------------------------------------------ misc

    /// @dev `x` mapped into [min, max] (forge-std's `bound` is not available).
    function _bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        return min + x % (max - min + 1);
    }
}
