// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IRoyaltySplitter} from "./interfaces/IRoyaltySplitter.sol";

/**
 * @title RoyaltySplitter
 * @notice Prepaid, metered, per-use royalties split among each asset's payees. See
 * `docs/royalty-splitter.md` for the design, roles, units and trust model.
 *
 * Revenue accrues to a split version as one cumulative total; a payee's due is
 * `totalReceived * share / 10_000 - released`, as in OpenZeppelin 4.x `PaymentSplitter`, so no
 * payee loses more than 1 wei to rounding over any number of settlements, and the remainder of
 * the division stays in the total, claimable as it grows.
 *
 * Roles: `DEFAULT_ADMIN_ROLE` grants and revokes roles; `PAUSER_ROLE` pauses deposits and
 * settlement; `METER_ROLE` settles usage within each buyer's caps. Nobody can move a deposit
 * other than by settlement within those caps, or move accrued revenue anywhere but to its payees.
 *
 * WARNING: Fee-on-transfer and rebasing tokens are refused at deposit. A token that later starts
 * charging fees or rebasing breaks the accounting of that token only.
 */
contract RoyaltySplitter is IRoyaltySplitter, AccessControl, Pausable, ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;

    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant METER_ROLE = keccak256("METER_ROLE");

    /// @notice Most payees a split version may have, so every loop over them is bounded.
    uint256 public constant MAX_PAYEES = 32;

    /// @notice Shares are basis points of this total.
    uint256 public constant TOTAL_SHARES = 10_000;

    uint64 private constant _MAX_NOTICE_PERIOD = 365 days;

    bytes32 private constant _USAGE_ITEM_TYPEHASH = keccak256("UsageItem(bytes32 assetKey,uint32 version,uint256 units)");

    bytes32 private constant _SETTLEMENT_TYPEHASH = keccak256(
        "Settlement(address buyer,address token,bytes32 usageRoot,UsageItem[] items,uint256 total,uint256 deadline)"
        "UsageItem(bytes32 assetKey,uint32 version,uint256 units)"
    );

    bytes32 private constant _SPLIT_TERMS_TYPEHASH = keccak256(
        "SplitTerms(address owner,bytes32 assetId,uint32 version,bytes32 manifestDigest,address token,"
        "uint96 pricePerUnit,address[] payees,uint16[] shares,uint256 deadline)"
    );

    struct Split {
        address owner;
        uint32 latestVersion;
    }

    struct PayeeState {
        uint16 share;
        // Bounded by totalReceived (uint128), so it always fits.
        uint240 released;
    }

    // Slot 0 is read and slot 1 read and written by every settled item; slot 1 is never zero once
    // the version exists (payeeCount > 0), so accruing to it always costs a non-zero store.
    struct Version {
        address token;
        uint96 pricePerUnit;
        uint128 totalReceived;
        uint8 payeeCount;
        bool superseded;
        bytes32 manifestDigest;
        address[] payees;
        mapping(address payee => PayeeState) payeeStates;
    }

    // A limit the buyer lowers keeps `current` until `pendingFrom`, then becomes `pending`. A
    // withdrawal request fixes `pendingWithdrawal` (<= deposit then) and lapses one notice period
    // after `withdrawableAt`.
    struct Account {
        uint128 deposit;
        uint128 spent;
        uint128 spendingCap;
        uint128 pendingWithdrawal;
        uint128 pendingCap;
        uint40 pendingCapFrom;
        uint40 withdrawableAt;
        uint40 cosigningFrom;
    }

    struct MaxPrice {
        uint96 current;
        uint96 pending;
        uint40 pendingFrom;
    }

    uint64 private immutable _noticePeriod;

    mapping(bytes32 assetKey => Split) private _splits;
    mapping(bytes32 assetKey => mapping(uint32 version => Version)) private _versions;
    mapping(address buyer => mapping(address token => Account)) private _accounts;
    mapping(address buyer => mapping(address token => mapping(bytes32 assetKey => MaxPrice))) private _maxPrices;
    mapping(bytes32 settlementKey => bool) private _settled;
    mapping(address owner => mapping(bytes32 digest => bool)) private _cancelledTerms;

    /**
     * @param admin receives `DEFAULT_ADMIN_ROLE`; it grants `PAUSER_ROLE` and `METER_ROLE`.
     * @param noticePeriod_ seconds before a buyer's withdrawal, lower cap or co-signing opt-in
     * takes effect, during which the meter can still settle usage already metered.
     */
    constructor(address admin, uint64 noticePeriod_) EIP712("RoyaltySplitter", "1") {
        if (admin == address(0)) revert RoyaltySplitterZeroAddress();
        if (noticePeriod_ == 0 || noticePeriod_ > _MAX_NOTICE_PERIOD) {
            revert RoyaltySplitterInvalidNoticePeriod(noticePeriod_);
        }
        _noticePeriod = noticePeriod_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ---------------------------------------------------------------- splits

    /// @inheritdoc IRoyaltySplitter
    function setSplit(SplitTerms calldata terms) external returns (bytes32 assetKey) {
        assetKey = _createVersion(msg.sender, terms);
    }

    /// @inheritdoc IRoyaltySplitter
    function setSplitWithSig(address owner, SplitTerms calldata terms, uint256 deadline, bytes calldata signature)
        external
        returns (bytes32 assetKey)
    {
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert RoyaltySplitterSignatureExpired(deadline);
        bytes32 digest = _hashTypedDataV4(_hashSplitTerms(owner, terms, deadline));
        if (_cancelledTerms[owner][digest]) revert RoyaltySplitterSplitTermsCancelled(digest);
        _checkSignature(owner, digest, signature);
        // The signed version number is the nonce: once created, the same terms fail VersionMismatch.
        assetKey = _createVersion(owner, terms);
    }

    /// @inheritdoc IRoyaltySplitter
    function cancelSplitTerms(bytes32 digest) external {
        _cancelledTerms[msg.sender][digest] = true;
        emit SplitTermsCancelled(msg.sender, digest);
    }

    // ---------------------------------------------------------------- buyers

    /// @inheritdoc IRoyaltySplitter
    function deposit(address token, uint256 amount) external payable nonReentrant whenNotPaused {
        if (amount == 0) revert RoyaltySplitterZeroAmount();
        if (token == address(0)) {
            if (msg.value != amount) revert RoyaltySplitterEthAmountMismatch(msg.value, amount);
        } else {
            if (msg.value != 0) revert RoyaltySplitterEthAmountMismatch(msg.value, 0);
            // Interaction before effect: the credit depends on what actually arrived.
            _pullExact(IERC20(token), amount);
        }
        Account storage acct = _accounts[msg.sender][token];
        acct.deposit = SafeCast.toUint128(acct.deposit + amount);
        emit Deposited(msg.sender, token, amount);
    }

    /// @inheritdoc IRoyaltySplitter
    function setMaxPrices(address token, bytes32[] calldata assetKeys, uint256[] calldata maxPrices) external {
        uint256 count = assetKeys.length;
        if (count != maxPrices.length) revert RoyaltySplitterLengthMismatch(count, maxPrices.length);
        bool funded = _accounts[msg.sender][token].deposit != 0;
        mapping(bytes32 => MaxPrice) storage limits = _maxPrices[msg.sender][token];
        for (uint256 i = 0; i < count; ++i) {
            MaxPrice storage limit = limits[assetKeys[i]];
            // Prices are uint96: a higher maximum accepts any price.
            uint256 target = Math.min(maxPrices[i], type(uint96).max);
            uint256 inForce = _inForce(limit.current, limit.pending, limit.pendingFrom);
            (uint256 current, uint256 pending, uint40 from) = _schedule(inForce, target, funded);
            limit.current = SafeCast.toUint96(current);
            limit.pending = SafeCast.toUint96(pending);
            limit.pendingFrom = from;
            emit MaxPriceSet(msg.sender, token, assetKeys[i], target, _effectiveAt(from));
        }
    }

    /// @inheritdoc IRoyaltySplitter
    function setSpendingCap(address token, uint256 spendingCap) external {
        Account storage acct = _accounts[msg.sender][token];
        uint256 target = Math.min(spendingCap, type(uint128).max);
        uint256 inForce = _inForce(acct.spendingCap, acct.pendingCap, acct.pendingCapFrom);
        (uint256 current, uint256 pending, uint40 from) = _schedule(inForce, target, acct.deposit != 0);
        acct.spendingCap = SafeCast.toUint128(current);
        acct.pendingCap = SafeCast.toUint128(pending);
        acct.pendingCapFrom = from;
        emit SpendingCapSet(msg.sender, token, target, _effectiveAt(from));
    }

    /// @inheritdoc IRoyaltySplitter
    function setCosigning(address token, bool required) external {
        Account storage acct = _accounts[msg.sender][token];
        uint40 from = 0;
        if (required) {
            // An earlier opt-in keeps its date; a new one waits unless there is nothing to charge.
            from = acct.cosigningFrom;
            if (from == 0) from = acct.deposit == 0 ? SafeCast.toUint40(block.timestamp) : _noticeEnd();
        }
        acct.cosigningFrom = from;
        emit CosigningSet(msg.sender, token, required, _effectiveAt(from));
    }

    /// @inheritdoc IRoyaltySplitter
    function requestWithdrawal(address token, uint256 amount) external {
        Account storage acct = _accounts[msg.sender][token];
        // Fixed against the deposit now, so money deposited while the request waits (or after it
        // became payable) never leaves under it: that money gets a notice period of its own.
        // pending <= deposit, a uint128
        // forge-lint: disable-next-line(unsafe-typecast)
        uint128 pending = uint128(Math.min(amount, acct.deposit));
        uint40 withdrawableAt = pending == 0 ? 0 : _noticeEnd();
        acct.pendingWithdrawal = pending;
        acct.withdrawableAt = withdrawableAt;
        emit WithdrawalRequested(msg.sender, token, pending, withdrawableAt);
    }

    /// @inheritdoc IRoyaltySplitter
    function withdrawDeposit(address token, address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert RoyaltySplitterZeroAddress();
        Account storage acct = _accounts[msg.sender][token];
        uint40 withdrawableAt = acct.withdrawableAt;
        if (withdrawableAt == 0) revert RoyaltySplitterNoWithdrawalRequested();
        if (!_reached(withdrawableAt)) revert RoyaltySplitterNoticePending(withdrawableAt);
        if (_lapsed(withdrawableAt)) revert RoyaltySplitterWithdrawalLapsed(_lapsesAt(withdrawableAt));
        uint128 available = acct.deposit;
        uint128 paid = acct.pendingWithdrawal < available ? acct.pendingWithdrawal : available;
        unchecked {
            // paid <= available
            acct.deposit = available - paid;
        }
        acct.pendingWithdrawal = 0;
        acct.withdrawableAt = 0;
        emit DepositWithdrawn(msg.sender, token, to, paid);
        if (paid != 0) _send(token, to, paid);
        return paid;
    }

    // ---------------------------------------------------------------- metering

    /// @inheritdoc IRoyaltySplitter
    function settle(address buyer, address token, bytes32 usageRoot, UsageItem[] calldata items)
        external
        onlyRole(METER_ROLE)
        whenNotPaused
        returns (uint256 total)
    {
        if (_reached(_accounts[buyer][token].cosigningFrom)) revert RoyaltySplitterCosignatureRequired(buyer);
        (total,) = _settle(buyer, token, usageRoot, items);
    }

    /// @inheritdoc IRoyaltySplitter
    function settleCosigned(
        address buyer,
        address token,
        bytes32 usageRoot,
        UsageItem[] calldata items,
        uint256 deadline,
        bytes calldata signature
    ) external onlyRole(METER_ROLE) whenNotPaused returns (uint256 total) {
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert RoyaltySplitterSignatureExpired(deadline);
        // The signed total is checked against what the items cost at their versions, skipped ones
        // included (the buyer then pays less than it signed for), so the signature is verified
        // after pricing; a bad one reverts every write made meanwhile.
        uint256 priced;
        (total, priced) = _settle(buyer, token, usageRoot, items);
        _checkSignature(
            buyer, _hashTypedDataV4(_hashSettlement(buyer, token, usageRoot, items, priced, deadline)), signature
        );
    }

    // ---------------------------------------------------------------- payees

    /// @inheritdoc IRoyaltySplitter
    function release(bytes32 assetKey, uint32 version, address payee)
        external
        nonReentrant
        returns (uint256 amount)
    {
        Version storage v = _versions[assetKey][version];
        amount = _claim(v, assetKey, version, payee);
        if (amount == 0) revert RoyaltySplitterNothingDue(payee);
        _send(v.token, payee, amount);
    }

    /// @inheritdoc IRoyaltySplitter
    function releaseBatch(address payee, address token, SplitRef[] calldata refs)
        external
        nonReentrant
        returns (uint256 total)
    {
        uint256 count = refs.length;
        for (uint256 i = 0; i < count; ++i) {
            SplitRef calldata ref = refs[i];
            Version storage v = _versions[ref.assetKey][ref.version];
            if (v.token != token) revert RoyaltySplitterTokenMismatch(i, v.token);
            total += _claim(v, ref.assetKey, ref.version, payee);
        }
        if (total == 0) revert RoyaltySplitterNothingDue(payee);
        _send(token, payee, total);
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc IRoyaltySplitter
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IRoyaltySplitter
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IRoyaltySplitter
    function assetKeyOf(address owner, bytes32 assetId) public pure returns (bytes32) {
        return keccak256(abi.encode(owner, assetId));
    }

    /// @inheritdoc IRoyaltySplitter
    function splitOwner(bytes32 assetKey) external view returns (address) {
        return _splits[assetKey].owner;
    }

    /// @inheritdoc IRoyaltySplitter
    function latestVersion(bytes32 assetKey) external view returns (uint32) {
        return _splits[assetKey].latestVersion;
    }

    /// @inheritdoc IRoyaltySplitter
    function splitVersion(bytes32 assetKey, uint32 version) external view returns (SplitVersionInfo memory info) {
        Version storage v = _versions[assetKey][version];
        uint256 count = v.payeeCount;
        if (count == 0) revert RoyaltySplitterUnknownVersion(0, assetKey, version);
        info.manifestDigest = v.manifestDigest;
        info.token = v.token;
        info.pricePerUnit = v.pricePerUnit;
        info.totalReceived = v.totalReceived;
        info.superseded = v.superseded;
        info.payees = v.payees;
        info.shares = new uint16[](count);
        for (uint256 i = 0; i < count; ++i) {
            info.shares[i] = v.payeeStates[info.payees[i]].share;
        }
    }

    /// @inheritdoc IRoyaltySplitter
    function shareOf(bytes32 assetKey, uint32 version, address payee) external view returns (uint256) {
        return _versions[assetKey][version].payeeStates[payee].share;
    }

    /// @inheritdoc IRoyaltySplitter
    function released(bytes32 assetKey, uint32 version, address payee) external view returns (uint256) {
        return _versions[assetKey][version].payeeStates[payee].released;
    }

    /// @inheritdoc IRoyaltySplitter
    function releasable(bytes32 assetKey, uint32 version, address payee) external view returns (uint256) {
        Version storage v = _versions[assetKey][version];
        PayeeState storage state = v.payeeStates[payee];
        return _entitlement(v.totalReceived, state.share) - state.released;
    }

    /// @inheritdoc IRoyaltySplitter
    function account(address buyer, address token) external view returns (BuyerAccount memory info) {
        Account storage acct = _accounts[buyer][token];
        info.deposit = acct.deposit;
        info.spent = acct.spent;
        info.spendingCap = _inForce(acct.spendingCap, acct.pendingCap, acct.pendingCapFrom);
        if (!_reached(acct.pendingCapFrom)) {
            info.pendingSpendingCap = acct.pendingCap;
            info.pendingSpendingCapFrom = acct.pendingCapFrom;
        }
        uint40 withdrawableAt = acct.withdrawableAt;
        if (withdrawableAt != 0 && !_lapsed(withdrawableAt)) {
            info.pendingWithdrawal = acct.pendingWithdrawal;
            info.withdrawableAt = withdrawableAt;
        }
        info.cosigning = _reached(acct.cosigningFrom);
        info.cosigningFrom = acct.cosigningFrom;
    }

    /// @inheritdoc IRoyaltySplitter
    function maxPricePerUnit(address buyer, address token, bytes32 assetKey) external view returns (uint256) {
        MaxPrice storage limit = _maxPrices[buyer][token][assetKey];
        return _inForce(limit.current, limit.pending, limit.pendingFrom);
    }

    /// @inheritdoc IRoyaltySplitter
    function pendingMaxPrice(address buyer, address token, bytes32 assetKey)
        external
        view
        returns (uint256 maxPrice, uint64 effectiveAt)
    {
        MaxPrice storage limit = _maxPrices[buyer][token][assetKey];
        if (!_reached(limit.pendingFrom)) return (limit.pending, limit.pendingFrom);
    }

    /// @inheritdoc IRoyaltySplitter
    function cosigning(address buyer, address token) external view returns (bool) {
        return _reached(_accounts[buyer][token].cosigningFrom);
    }

    /// @inheritdoc IRoyaltySplitter
    function isSettled(bytes32 usageRoot, address buyer, address token) external view returns (bool) {
        return _settled[_settlementKey(usageRoot, buyer, token)];
    }

    /// @inheritdoc IRoyaltySplitter
    function quote(address buyer, address token, bytes32 usageRoot, UsageItem[] calldata items)
        external
        view
        returns (uint256 total)
    {
        _checkUnsettled(usageRoot, buyer, token, items.length);
        mapping(bytes32 => MaxPrice) storage maxPrices = _maxPrices[buyer][token];
        for (uint256 i = 0; i < items.length; ++i) {
            (, uint256 amount, bool superseded) = _priceItem(maxPrices, token, items[i], i);
            if (!superseded) total += amount;
        }
        _checkCharge(_accounts[buyer][token], total);
    }

    /// @inheritdoc IRoyaltySplitter
    function settlementDigest(
        address buyer,
        address token,
        bytes32 usageRoot,
        UsageItem[] calldata items,
        uint256 total,
        uint256 deadline
    ) external view returns (bytes32) {
        return _hashTypedDataV4(_hashSettlement(buyer, token, usageRoot, items, total, deadline));
    }

    /// @inheritdoc IRoyaltySplitter
    function splitTermsDigest(address owner, SplitTerms calldata terms, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(_hashSplitTerms(owner, terms, deadline));
    }

    /// @inheritdoc IRoyaltySplitter
    function noticePeriod() external view returns (uint64) {
        return _noticePeriod;
    }

    /// @inheritdoc IRoyaltySplitter
    function splitTermsCancelled(address owner, bytes32 digest) external view returns (bool) {
        return _cancelledTerms[owner][digest];
    }

    // ---------------------------------------------------------------- internals

    function _createVersion(address owner, SplitTerms calldata terms) private returns (bytes32 assetKey) {
        _checkTerms(terms);
        assetKey = assetKeyOf(owner, terms.assetId);
        Split storage split = _splits[assetKey];
        uint32 previous = split.latestVersion;
        uint32 expected = previous + 1;
        if (terms.version != expected) revert RoyaltySplitterVersionMismatch(assetKey, expected, terms.version);
        if (previous != 0) _versions[assetKey][previous].superseded = true;
        _splits[assetKey] = Split({owner: owner, latestVersion: expected});

        Version storage v = _versions[assetKey][expected];
        uint256 count = terms.payees.length;
        v.token = terms.token;
        v.pricePerUnit = terms.pricePerUnit;
        // forge-lint: disable-next-line(unsafe-typecast)
        v.payeeCount = uint8(count); // count <= MAX_PAYEES, checked by _checkTerms
        v.manifestDigest = terms.manifestDigest;
        v.payees = terms.payees;
        for (uint256 i = 0; i < count; ++i) {
            PayeeState storage state = v.payeeStates[terms.payees[i]];
            // The slot is written anyway, so reading it first detects duplicates for ~100 gas.
            if (state.share != 0) revert RoyaltySplitterInvalidPayee(i, terms.payees[i]);
            state.share = terms.shares[i];
        }
        _emitVersionCreated(assetKey, expected, owner, terms);
    }

    // A separate frame: the event's nine fields overflow the caller's stack.
    function _emitVersionCreated(bytes32 assetKey, uint32 version, address owner, SplitTerms calldata terms) private {
        emit SplitVersionCreated(
            assetKey,
            version,
            owner,
            terms.assetId,
            terms.manifestDigest,
            terms.token,
            terms.pricePerUnit,
            terms.payees,
            terms.shares
        );
    }

    function _checkTerms(SplitTerms calldata terms) private view {
        uint256 count = terms.payees.length;
        if (count == 0 || count > MAX_PAYEES) revert RoyaltySplitterInvalidPayeeCount(count);
        if (terms.shares.length != count) revert RoyaltySplitterLengthMismatch(count, terms.shares.length);
        uint256 sum = 0;
        for (uint256 i = 0; i < count; ++i) {
            if (terms.payees[i] == address(0)) revert RoyaltySplitterInvalidPayee(i, address(0));
            if (terms.shares[i] == 0) revert RoyaltySplitterZeroShare(i);
            sum += terms.shares[i];
        }
        if (sum != TOTAL_SHARES) revert RoyaltySplitterInvalidShares(sum);
        if (terms.pricePerUnit == 0) revert RoyaltySplitterZeroPrice();
        if (terms.manifestDigest == bytes32(0)) revert RoyaltySplitterZeroManifestDigest();
        if (terms.token != address(0) && terms.token.code.length == 0) revert RoyaltySplitterInvalidToken(terms.token);
    }

    /// @dev Charges the items of live versions (`total`) and skips those of superseded ones;
    /// `priced` counts both.
    function _settle(address buyer, address token, bytes32 usageRoot, UsageItem[] calldata items)
        private
        returns (uint256 total, uint256 priced)
    {
        uint256 count = items.length;
        bytes32 settlementKey = _checkUnsettled(usageRoot, buyer, token, count);
        mapping(bytes32 => MaxPrice) storage maxPrices = _maxPrices[buyer][token];
        for (uint256 i = 0; i < count; ++i) {
            (Version storage v, uint256 amount, bool superseded) = _priceItem(maxPrices, token, items[i], i);
            priced += amount;
            if (superseded) {
                // A split owner can publish a version at any time, even to front-run this call:
                // reverting would block every other creator's item too.
                _emitSkipped(buyer, token, usageRoot, i, items[i]);
                continue;
            }
            v.totalReceived = SafeCast.toUint128(v.totalReceived + amount);
            total += amount;
        }
        Account storage acct = _accounts[buyer][token];
        uint256 spentAfter = _checkCharge(acct, total);
        // Both fit: total <= deposit (uint128) and spentAfter <= spendingCap (uint128), checked above.
        // forge-lint: disable-next-line(unsafe-typecast)
        acct.deposit -= uint128(total);
        // forge-lint: disable-next-line(unsafe-typecast)
        acct.spent = uint128(spentAfter);
        _settled[settlementKey] = true;
        emit UsageSettled(buyer, token, usageRoot, items, total);
    }

    // A separate frame: the settlement loop has no stack slots left for the event's fields.
    function _emitSkipped(address buyer, address token, bytes32 usageRoot, uint256 index, UsageItem calldata item)
        private
    {
        emit UsageItemSkipped(buyer, token, usageRoot, index, item.assetKey, item.version);
    }

    /**
     * @dev The checks every item passes, shared by {settle} and {quote}, and its amount at its
     * version's price. An item of a superseded version is to be skipped: its buyer's maximum price
     * is not checked, as it is not charged.
     */
    function _priceItem(
        mapping(bytes32 => MaxPrice) storage maxPrices,
        address token,
        UsageItem calldata item,
        uint256 index
    ) private view returns (Version storage v, uint256 amount, bool superseded) {
        v = _versions[item.assetKey][item.version];
        // All reads before the first branch, so the optimizer loads each slot once.
        (address versionToken, uint256 price) = (v.token, v.pricePerUnit);
        uint256 payeeCount;
        (payeeCount, superseded) = (v.payeeCount, v.superseded);
        MaxPrice storage limit = maxPrices[item.assetKey];
        uint256 maxPrice = _inForce(limit.current, limit.pending, limit.pendingFrom);
        if (payeeCount == 0) revert RoyaltySplitterUnknownVersion(index, item.assetKey, item.version);
        if (versionToken != token) revert RoyaltySplitterTokenMismatch(index, versionToken);
        if (item.units == 0) revert RoyaltySplitterZeroUnits(index);
        if (!superseded && price > maxPrice) revert RoyaltySplitterPriceAboveCap(index, price, maxPrice);
        amount = item.units * price;
    }

    function _checkUnsettled(bytes32 usageRoot, address buyer, address token, uint256 count)
        private
        view
        returns (bytes32 settlementKey)
    {
        if (count == 0) revert RoyaltySplitterEmptySettlement();
        settlementKey = _settlementKey(usageRoot, buyer, token);
        if (_settled[settlementKey]) revert RoyaltySplitterAlreadySettled(usageRoot, buyer, token);
    }

    function _checkCharge(Account storage acct, uint256 total) private view returns (uint256 spentAfter) {
        uint256 cap = _inForce(acct.spendingCap, acct.pendingCap, acct.pendingCapFrom);
        spentAfter = acct.spent + total;
        if (spentAfter > cap) revert RoyaltySplitterSpendingCapExceeded(spentAfter, cap);
        if (total > acct.deposit) revert RoyaltySplitterInsufficientDeposit(total, acct.deposit);
    }

    /// @dev Records and returns what `payee` is due from `v`, without paying it.
    function _claim(Version storage v, bytes32 assetKey, uint32 version, address payee)
        private
        returns (uint256 due)
    {
        PayeeState storage state = v.payeeStates[payee];
        uint256 share = state.share;
        if (share == 0) revert RoyaltySplitterNotPayee(assetKey, version, payee);
        uint256 entitled = _entitlement(v.totalReceived, share);
        due = entitled - state.released;
        if (due != 0) {
            // entitled <= totalReceived < 2^128
            // forge-lint: disable-next-line(unsafe-typecast)
            state.released = uint240(entitled);
            emit Released(assetKey, version, payee, v.token, due);
        }
    }

    function _entitlement(uint256 totalReceived, uint256 share) private pure returns (uint256) {
        return totalReceived * share / TOTAL_SHARES;
    }

    function _pullExact(IERC20 token, uint256 amount) private {
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert RoyaltySplitterFeeOnTransfer(address(token), amount, received);
    }

    function _send(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            Address.sendValue(payable(to), amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    function _checkSignature(address signer, bytes32 digest, bytes calldata signature) private view {
        // ECDSA for accounts without code (high-s and malformed signatures fail), ERC-1271 otherwise.
        if (!SignatureChecker.isValidSignatureNowCalldata(signer, digest, signature)) {
            revert RoyaltySplitterInvalidSignature();
        }
    }

    function _hashSettlement(
        address buyer,
        address token,
        bytes32 usageRoot,
        UsageItem[] calldata items,
        uint256 total,
        uint256 deadline
    ) private pure returns (bytes32) {
        uint256 count = items.length;
        bytes32[] memory itemHashes = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            UsageItem calldata item = items[i];
            itemHashes[i] = keccak256(abi.encode(_USAGE_ITEM_TYPEHASH, item.assetKey, item.version, item.units));
        }
        return keccak256(
            abi.encode(
                _SETTLEMENT_TYPEHASH,
                buyer,
                token,
                usageRoot,
                keccak256(abi.encodePacked(itemHashes)),
                total,
                deadline
            )
        );
    }

    function _hashSplitTerms(address owner, SplitTerms calldata terms, uint256 deadline)
        private
        pure
        returns (bytes32)
    {
        // EIP-712 encodes an array of atomic values as the hash of its 32-byte-padded elements,
        // which is what abi.encodePacked produces for arrays.
        return keccak256(
            abi.encode(
                _SPLIT_TERMS_TYPEHASH,
                owner,
                terms.assetId,
                terms.version,
                terms.manifestDigest,
                terms.token,
                terms.pricePerUnit,
                keccak256(abi.encodePacked(terms.payees)),
                keccak256(abi.encodePacked(terms.shares)),
                deadline
            )
        );
    }

    /**
     * @dev A buyer's limit now at `inForce`, set to `target`: at once if that lets the meter charge
     * at least as much, or if the buyer has no deposit to charge; otherwise after the notice
     * period, so usage metered under the old limit can still be settled. A new cut restarts it.
     */
    function _schedule(uint256 inForce, uint256 target, bool funded)
        private
        view
        returns (uint256 current, uint256 pending, uint40 pendingFrom)
    {
        if (target >= inForce || !funded) return (target, 0, 0);
        return (inForce, target, _noticeEnd());
    }

    function _inForce(uint256 current, uint256 pending, uint40 pendingFrom) private view returns (uint256) {
        return _reached(pendingFrom) ? pending : current;
    }

    /// @dev Whether the non-zero time `at` has come.
    function _reached(uint40 at) private view returns (bool) {
        // Notice periods run for days; the seconds a validator can shift a timestamp do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        return at != 0 && block.timestamp >= at;
    }

    /// @dev When a withdrawal payable from `withdrawableAt` lapses: one notice period later.
    function _lapsesAt(uint40 withdrawableAt) private view returns (uint64) {
        return uint64(withdrawableAt) + _noticePeriod;
    }

    function _lapsed(uint40 withdrawableAt) private view returns (bool) {
        // Like _reached: a lapse a notice period away does not hinge on a few seconds.
        // forge-lint: disable-next-line(block-timestamp)
        return block.timestamp >= _lapsesAt(withdrawableAt);
    }

    function _noticeEnd() private view returns (uint40) {
        return SafeCast.toUint40(block.timestamp + _noticePeriod);
    }

    function _effectiveAt(uint40 pendingFrom) private view returns (uint64) {
        return pendingFrom == 0 ? SafeCast.toUint64(block.timestamp) : pendingFrom;
    }

    function _settlementKey(bytes32 usageRoot, address buyer, address token) private pure returns (bytes32) {
        return keccak256(abi.encode(usageRoot, buyer, token));
    }
}
