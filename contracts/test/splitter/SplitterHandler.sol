// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "@prb/test/Vm.sol";
import {RoyaltySplitter} from "../../src/RoyaltySplitter.sol";
import {IRoyaltySplitter} from "../../src/interfaces/IRoyaltySplitter.sol";
import {MockERC20} from "./SplitterMocks.sol";

/**
 * @dev Drives a RoyaltySplitter through random sequences of deposits, cap changes, 1-3 wei
 * settlements (reused usage roots included), new split versions, releases and withdrawals,
 * keeping ghost totals for the invariants. It is the splitter's meter and the splits' owner.
 */
contract SplitterHandler {
    Vm private constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    address private constant ETH = address(0);
    uint256 private constant ROOTS = 6;

    RoyaltySplitter public immutable splitter;
    MockERC20 public immutable token;
    address[3] public payees = [address(0xA11CE), address(0xB0B), address(0xCA401)];
    address[2] public buyers = [address(0xB1), address(0xB2)];

    struct Ref {
        bytes32 assetKey;
        uint32 version;
        address token;
    }

    /// @dev The handler's own model of a buyer limit under the notice rule: raises (and any change
    /// while unfunded) apply at once, cuts after the notice period.
    struct Limit {
        uint256 current;
        uint256 pending;
        uint256 from;
    }

    Ref[] private _refs;
    bytes32[2] private _assetKeys;
    mapping(address buyer => mapping(address token => Limit)) private _capModel;
    mapping(address buyer => mapping(address token => Limit)) private _priceModel;

    mapping(address token => uint256) public ghostDeposited;
    mapping(address token => uint256) public ghostBuyerWithdrawn;
    mapping(address token => uint256) public ghostReleased;
    mapping(uint256 refIndex => mapping(address payee => uint256)) public ghostPaid;
    mapping(bytes32 settlementKey => bool) private _ghostSettled;
    bool public capExceeded;
    bool public priceAboveMax;
    bool public settledTwice;
    bool public paidOtherThanDue;
    uint256 public settlements;
    uint256 public duplicateRootAttempts;

    constructor(RoyaltySplitter splitter_, MockERC20 token_) {
        splitter = splitter_;
        token = token_;
        _assetKeys[0] = _newVersion(0, 0);
        _assetKeys[1] = _newVersion(1, 0);
    }

    /// @dev Starts every buyer with a deposit and caps in both tokens, so settlements go through
    /// from the first call and caps tighten or loosen from there.
    function fundAll() external {
        for (uint256 b = 0; b < 2; ++b) {
            for (uint256 t = 0; t < 2; ++t) {
                this.deposit(b, t, 499);
                this.setCaps(b, t, 30, 1);
            }
        }
    }

    // ------------------------------------------------------------ actions

    function deposit(uint256 buyerSeed, uint256 tokenSeed, uint256 amount) external {
        address buyer = buyers[buyerSeed % 2];
        address tok = _token(tokenSeed);
        amount = 1 + amount % 1000;
        vm.startPrank(buyer);
        if (tok == ETH) {
            vm.deal(buyer, buyer.balance + amount);
            splitter.deposit{value: amount}(ETH, amount);
        } else {
            token.mint(buyer, amount);
            token.approve(address(splitter), amount);
            splitter.deposit(tok, amount);
        }
        vm.stopPrank();
        ghostDeposited[tok] += amount;
    }

    /// @dev The new spending cap lands within 40 wei of what the buyer already spent (below it
    /// too), so settlements keep running into it.
    function setCaps(uint256 buyerSeed, uint256 tokenSeed, uint256 cap, uint256 maxPrice) external {
        address buyer = buyers[buyerSeed % 2];
        address tok = _token(tokenSeed);
        uint256 spent = splitter.account(buyer, tok).spent;
        cap = spent + cap % 40 < 5 ? 0 : spent + cap % 40 - 5;
        bytes32[] memory keys = new bytes32[](1);
        keys[0] = _assetKeys[tokenSeed % 2];
        uint256[] memory prices = new uint256[](1);
        prices[0] = maxPrice % 4;
        vm.startPrank(buyer);
        splitter.setMaxPrices(tok, keys, prices);
        splitter.setSpendingCap(tok, cap);
        vm.stopPrank();
        bool funded = splitter.account(buyer, tok).deposit != 0;
        _modelSet(_priceModel[buyer][tok], prices[0], funded);
        _modelSet(_capModel[buyer][tok], cap, funded);
    }

    function settle(uint256 buyerSeed, uint256 tokenSeed, uint256 rootSeed, uint256 units, bool twoItems) external {
        address buyer = buyers[buyerSeed % 2];
        address tok = _token(tokenSeed);
        bytes32 assetKey = _assetKeys[tokenSeed % 2];
        uint32 version = splitter.latestVersion(assetKey);
        IRoyaltySplitter.UsageItem[] memory items = new IRoyaltySplitter.UsageItem[](twoItems ? 2 : 1);
        for (uint256 i = 0; i < items.length; ++i) {
            items[i] = IRoyaltySplitter.UsageItem(assetKey, version, 1 + (units >> (8 * i)) % 3);
        }
        bytes32 root = keccak256(abi.encode("root", rootSeed % ROOTS));
        bytes32 settlementKey = keccak256(abi.encode(root, buyer, tok));
        if (_ghostSettled[settlementKey]) ++duplicateRootAttempts;

        IRoyaltySplitter.BuyerAccount memory before = splitter.account(buyer, tok);
        uint256 price = splitter.splitVersion(assetKey, version).pricePerUnit;
        try splitter.settle(buyer, tok, root, items) returns (uint256 total) {
            ++settlements;
            if (_ghostSettled[settlementKey]) settledTwice = true;
            _ghostSettled[settlementKey] = true;
            if (before.spent + total > modelCap(buyer, tok) || total > before.deposit) capExceeded = true;
            if (price > modelMaxPrice(buyer, tok)) priceAboveMax = true;
        } catch {}
    }

    function newVersion(uint256 assetSeed, uint256 variant) external {
        _newVersion(assetSeed % 2, variant);
    }

    function release(uint256 payeeSeed, uint256 refSeed) external {
        uint256 index = refSeed % _refs.length;
        Ref memory ref = _refs[index];
        address payee = payees[payeeSeed % 3];
        if (splitter.releasable(ref.assetKey, ref.version, payee) == 0) return;
        uint256 paid = splitter.release(ref.assetKey, ref.version, payee);
        ghostPaid[index][payee] += paid;
        ghostReleased[ref.token] += paid;
    }

    function releaseBatch(uint256 payeeSeed, uint256 tokenSeed) external {
        address tok = _token(tokenSeed);
        address payee = payees[payeeSeed % 3];
        uint256 count = 0;
        uint256 due = 0;
        IRoyaltySplitter.SplitRef[] memory refs = new IRoyaltySplitter.SplitRef[](_refs.length);
        for (uint256 i = 0; i < _refs.length; ++i) {
            Ref memory ref = _refs[i];
            if (ref.token != tok || splitter.shareOf(ref.assetKey, ref.version, payee) == 0) continue;
            refs[count++] = IRoyaltySplitter.SplitRef(ref.assetKey, ref.version);
            uint256 refDue = splitter.releasable(ref.assetKey, ref.version, payee);
            ghostPaid[i][payee] += refDue;
            due += refDue;
        }
        if (due == 0) return;
        assembly ("memory-safe") {
            mstore(refs, count)
        }
        uint256 paid = splitter.releaseBatch(payee, tok, refs);
        if (paid != due) paidOtherThanDue = true;
        ghostReleased[tok] += paid;
    }

    function requestWithdrawal(uint256 buyerSeed, uint256 tokenSeed, uint256 amount) external {
        vm.prank(buyers[buyerSeed % 2]);
        splitter.requestWithdrawal(_token(tokenSeed), amount % 1500);
    }

    function withdrawDeposit(uint256 buyerSeed, uint256 tokenSeed) external {
        address buyer = buyers[buyerSeed % 2];
        address tok = _token(tokenSeed);
        vm.prank(buyer);
        try splitter.withdrawDeposit(tok, buyer) returns (uint256 paid) {
            ghostBuyerWithdrawn[tok] += paid;
        } catch {}
    }

    function warp(uint256 secondsAhead) external {
        vm.warp(block.timestamp + secondsAhead % 2 days);
    }

    // ------------------------------------------------------------ views for the invariants

    function refCount() external view returns (uint256) {
        return _refs.length;
    }

    function refAt(uint256 i) external view returns (Ref memory) {
        return _refs[i];
    }

    function payeeCount() external pure returns (uint256) {
        return 3;
    }

    function assetKeyOf(address tok) external view returns (bytes32) {
        return _assetKeys[tok == ETH ? 0 : 1];
    }

    /// @dev The spending cap the notice rule puts in force now, by the handler's own model.
    function modelCap(address buyer, address tok) public view returns (uint256) {
        return _modelInForce(_capModel[buyer][tok]);
    }

    /// @dev The maximum price for `tok`'s asset the notice rule puts in force now.
    function modelMaxPrice(address buyer, address tok) public view returns (uint256) {
        return _modelInForce(_priceModel[buyer][tok]);
    }

    // ------------------------------------------------------------ internals

    /// @dev Asset 0 is priced in ETH, asset 1 in the token; shares vary by version to stress rounding.
    function _newVersion(uint256 asset, uint256 variant) private returns (bytes32 assetKey) {
        uint16[3][3] memory variants = [[3333, 3333, 3334], [5000, 4999, 1], [1, 1, 9998]];
        uint16[3] memory chosen = variants[variant % 3];
        address[] memory list = new address[](3);
        uint16[] memory shares = new uint16[](3);
        for (uint256 i = 0; i < 3; ++i) {
            (list[i], shares[i]) = (payees[i], chosen[i]);
        }
        address tok = asset == 0 ? ETH : address(token);
        bytes32 assetId = bytes32(asset + 1);
        uint32 version = splitter.latestVersion(splitter.assetKeyOf(address(this), assetId)) + 1;
        assetKey = splitter.setSplit(
            IRoyaltySplitter.SplitTerms({
                assetId: assetId,
                version: version,
                manifestDigest: keccak256(abi.encode(asset, version)),
                token: tok,
                pricePerUnit: 1,
                payees: list,
                shares: shares
            })
        );
        _refs.push(Ref(assetKey, version, tok));
    }

    function _modelSet(Limit storage limit, uint256 target, bool funded) private {
        uint256 inForce = _modelInForce(limit);
        if (target >= inForce || !funded) {
            (limit.current, limit.pending, limit.from) = (target, 0, 0);
        } else {
            (limit.current, limit.pending, limit.from) = (inForce, target, block.timestamp + splitter.noticePeriod());
        }
    }

    function _modelInForce(Limit storage limit) private view returns (uint256) {
        // forge-lint: disable-next-line(block-timestamp)
        return limit.from != 0 && block.timestamp >= limit.from ? limit.pending : limit.current;
    }

    function _token(uint256 seed) private view returns (address) {
        return seed % 2 == 0 ? ETH : address(token);
    }
}
