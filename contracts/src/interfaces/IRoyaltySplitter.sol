// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IRoyaltySplitter
 * @notice Per-use royalties: buyers prepay deposits, a metering operator settles batches of usage
 * within the buyers' caps, and each asset's revenue is split among its payees by basis points.
 *
 * A split belongs to the account that created it: `assetKey = keccak256(abi.encode(owner, assetId))`.
 * Each change makes a new version bound to a manifest digest; revenue accrues per version, so what
 * was settled under a version stays with that version's payees.
 *
 * NOTE: This interface is public API. The ledger service computes asset keys and EIP-712 digests
 * from it in Python; changing a type string, a selector or an event breaks the service.
 */
interface IRoyaltySplitter {
    /**
     * @dev A new version of a split, as its owner signs it or sends it.
     * `version` must be the split's latest version plus one (1 for a new split), which makes
     * creation idempotent and a signature usable once. `token` is the ERC-20 prices are in, or
     * `address(0)` for ETH. `shares` are basis points, one per payee, summing to 10,000.
     */
    struct SplitTerms {
        bytes32 assetId;
        uint32 version;
        bytes32 manifestDigest;
        address token;
        uint96 pricePerUnit;
        address[] payees;
        uint16[] shares;
    }

    /// @dev `units` of use of `assetKey`, priced at split `version`; charged only while that version
    /// is the latest one (see {UsageItemSkipped}).
    struct UsageItem {
        bytes32 assetKey;
        uint32 version;
        uint256 units;
    }

    /// @dev One split version, as named in {releaseBatch}.
    struct SplitRef {
        bytes32 assetKey;
        uint32 version;
    }

    /// @dev A split version as {splitVersion} returns it.
    struct SplitVersionInfo {
        bytes32 manifestDigest;
        address token;
        uint256 pricePerUnit;
        uint256 totalReceived;
        bool superseded;
        address[] payees;
        uint16[] shares;
    }

    /**
     * @dev A buyer's state in one token as {account} returns it. `spendingCap` and `cosigning` are
     * what applies now; a lower cap waiting for its notice period is `pendingSpendingCap` from
     * `pendingSpendingCapFrom` (0 if none). `pendingWithdrawal` and `withdrawableAt` are 0 when no
     * withdrawal is requested or the request lapsed (one notice period after `withdrawableAt`);
     * `cosigningFrom` is 0 when co-signing is off, and in the future while the opt-in waits.
     */
    struct BuyerAccount {
        uint256 deposit;
        uint256 spent;
        uint256 spendingCap;
        uint256 pendingSpendingCap;
        uint64 pendingSpendingCapFrom;
        uint256 pendingWithdrawal;
        uint64 withdrawableAt;
        bool cosigning;
        uint64 cosigningFrom;
    }

    /// @dev Emitted when `owner` created `version` of the split `assetKey`.
    event SplitVersionCreated(
        bytes32 indexed assetKey,
        uint32 indexed version,
        address indexed owner,
        bytes32 assetId,
        bytes32 manifestDigest,
        address token,
        uint256 pricePerUnit,
        address[] payees,
        uint16[] shares
    );

    /// @dev Emitted when `buyer` deposited `amount` of `token`.
    event Deposited(address indexed buyer, address indexed token, uint256 amount);

    /// @dev Emitted when `buyer` asked to withdraw `amount` of `token` (at most its deposit then)
    /// from `withdrawableAt` until one notice period later; `amount` 0 means no request is pending.
    event WithdrawalRequested(address indexed buyer, address indexed token, uint256 amount, uint64 withdrawableAt);

    /// @dev Emitted when `buyer` withdrew `amount` of unused `token` deposit to `to`.
    event DepositWithdrawn(address indexed buyer, address indexed token, address to, uint256 amount);

    /// @dev Emitted when `buyer` set the highest price per unit of `token` it pays for `assetKey`,
    /// applying from `effectiveAt`.
    event MaxPriceSet(
        address indexed buyer, address indexed token, bytes32 indexed assetKey, uint256 maxPricePerUnit, uint64 effectiveAt
    );

    /// @dev Emitted when `buyer` set the cap on its cumulative spending in `token`, applying from `effectiveAt`.
    event SpendingCapSet(address indexed buyer, address indexed token, uint256 spendingCap, uint64 effectiveAt);

    /// @dev Emitted when `buyer` turned co-signed settlement in `token` on or off, from `effectiveAt`.
    event CosigningSet(address indexed buyer, address indexed token, bool required, uint64 effectiveAt);

    /**
     * @dev Emitted when the usage under `usageRoot` was charged to `buyer`: `total` of `token`
     * for `items`, each of which accrued `units` x its version's price to that split version.
     * One log per settlement carries every item: cheaper than a log per item, and the full
     * record a statement or a dispute needs.
     */
    event UsageSettled(
        address indexed buyer, address indexed token, bytes32 indexed usageRoot, UsageItem[] items, uint256 total
    );

    /**
     * @dev Emitted when item `index` of the settlement of `usageRoot` named split `version` of
     * `assetKey`, superseded by then, and was not charged. `usageRoot` is settled all the same:
     * the service settles that usage again under another root at the latest version.
     */
    event UsageItemSkipped(
        address indexed buyer,
        address indexed token,
        bytes32 indexed usageRoot,
        uint256 index,
        bytes32 assetKey,
        uint32 version
    );

    /// @dev Emitted when `owner` cancelled its signature of the split terms with EIP-712 `digest`.
    event SplitTermsCancelled(address indexed owner, bytes32 indexed digest);

    /// @dev Emitted when `amount` of `token` from split `version` of `assetKey` was paid to `payee`.
    event Released(
        bytes32 indexed assetKey, uint32 indexed version, address indexed payee, address token, uint256 amount
    );

    /// @dev A split must have between 1 and 32 payees; it had `count`.
    error RoyaltySplitterInvalidPayeeCount(uint256 count);

    /// @dev Two parallel arrays differ in length.
    error RoyaltySplitterLengthMismatch(uint256 left, uint256 right);

    /// @dev The payee at `index` is the zero address or appears twice.
    error RoyaltySplitterInvalidPayee(uint256 index, address payee);

    /// @dev The payee at `index` has a zero share.
    error RoyaltySplitterZeroShare(uint256 index);

    /// @dev Shares must sum to 10,000 basis points; they summed to `sum`.
    error RoyaltySplitterInvalidShares(uint256 sum);

    /// @dev The price per unit is zero.
    error RoyaltySplitterZeroPrice();

    /// @dev The manifest digest is zero.
    error RoyaltySplitterZeroManifestDigest();

    /// @dev `token` is neither `address(0)` (ETH) nor a contract.
    error RoyaltySplitterInvalidToken(address token);

    /// @dev The next version of `assetKey` is `expected`; `given` was offered.
    error RoyaltySplitterVersionMismatch(bytes32 assetKey, uint32 expected, uint32 given);

    /// @dev The signature does not come from the expected account.
    error RoyaltySplitterInvalidSignature();

    /// @dev The signature expired at `deadline`.
    error RoyaltySplitterSignatureExpired(uint256 deadline);

    /// @dev The amount is zero.
    error RoyaltySplitterZeroAmount();

    /// @dev The address is zero.
    error RoyaltySplitterZeroAddress();

    /// @dev `sent` wei came with a deposit that needed `expected` wei.
    error RoyaltySplitterEthAmountMismatch(uint256 sent, uint256 expected);

    /// @dev `token` delivered `received` for a transfer of `expected`: fee-on-transfer and rebasing
    /// tokens are refused.
    error RoyaltySplitterFeeOnTransfer(address token, uint256 expected, uint256 received);

    /// @dev The notice period must be between 1 second and 365 days.
    error RoyaltySplitterInvalidNoticePeriod(uint64 noticePeriod);

    /// @dev No withdrawal was requested for this token.
    error RoyaltySplitterNoWithdrawalRequested();

    /// @dev The notice period runs until `withdrawableAt`.
    error RoyaltySplitterNoticePending(uint64 withdrawableAt);

    /// @dev The withdrawal request lapsed at `lapsedAt`: request again.
    error RoyaltySplitterWithdrawalLapsed(uint64 lapsedAt);

    /// @dev The owner cancelled its signature of the split terms with this EIP-712 `digest`.
    error RoyaltySplitterSplitTermsCancelled(bytes32 digest);

    /// @dev A settlement needs at least one item.
    error RoyaltySplitterEmptySettlement();

    /// @dev `usageRoot` was already settled for `buyer` in `token`.
    error RoyaltySplitterAlreadySettled(bytes32 usageRoot, address buyer, address token);

    /// @dev `buyer` opted into co-signing: use {settleCosigned}.
    error RoyaltySplitterCosignatureRequired(address buyer);

    /// @dev Item `index` names a split version that does not exist.
    error RoyaltySplitterUnknownVersion(uint256 index, bytes32 assetKey, uint32 version);

    /// @dev Entry `index` names a split version priced in `splitToken`, not in the token of the call.
    error RoyaltySplitterTokenMismatch(uint256 index, address splitToken);

    /// @dev Item `index` has zero units.
    error RoyaltySplitterZeroUnits(uint256 index);

    /// @dev Item `index` costs `price` per unit, above the buyer's `maxPrice` for that asset.
    error RoyaltySplitterPriceAboveCap(uint256 index, uint256 price, uint256 maxPrice);

    /// @dev The settlement would bring the buyer's cumulative spending to `spentAfter`, above `spendingCap`.
    error RoyaltySplitterSpendingCapExceeded(uint256 spentAfter, uint256 spendingCap);

    /// @dev The settlement costs `total`, more than the buyer's `deposit`.
    error RoyaltySplitterInsufficientDeposit(uint256 total, uint256 deposit);

    /// @dev `payee` has no share in split `version` of `assetKey`.
    error RoyaltySplitterNotPayee(bytes32 assetKey, uint32 version, address payee);

    /// @dev Nothing is due to `payee`.
    error RoyaltySplitterNothingDue(address payee);

    /**
     * @notice Creates the next version of the caller's split for `terms.assetId`.
     * @return assetKey `keccak256(abi.encode(msg.sender, terms.assetId))`.
     */
    function setSplit(SplitTerms calldata terms) external returns (bytes32 assetKey);

    /**
     * @notice Creates the next version of `owner`'s split from `owner`'s EIP-712 signature of
     * `SplitTerms(address owner,bytes32 assetId,uint32 version,bytes32 manifestDigest,address token,uint96 pricePerUnit,address[] payees,uint16[] shares,uint256 deadline)`,
     * so a relayer (the ledger service) can register it, unless the owner cancelled that digest
     * ({cancelSplitTerms}). ERC-1271 signatures are accepted from contract accounts.
     */
    function setSplitWithSig(address owner, SplitTerms calldata terms, uint256 deadline, bytes calldata signature)
        external
        returns (bytes32 assetKey);

    /**
     * @notice Makes the caller's signature of the split terms with EIP-712 `digest`
     * ({splitTermsDigest}) unusable, so terms signed by mistake cannot win over corrected ones
     * before their deadline.
     */
    function cancelSplitTerms(bytes32 digest) external;

    /// @notice Adds `amount` of `token` (`address(0)`: ETH, sent as `msg.value`) to the caller's deposit.
    function deposit(address token, uint256 amount) external payable;

    /**
     * @notice Sets, per asset, the highest price per unit of `token` the caller pays (0 refuses the
     * asset; 2^96-1 or more accepts any price). A raise applies at once; a cut applies after the
     * notice period, unless the caller has no `token` deposit.
     */
    function setMaxPrices(address token, bytes32[] calldata assetKeys, uint256[] calldata maxPrices) external;

    /**
     * @notice Caps the caller's cumulative spending in `token` (2^128-1 or more: no cap). A raise
     * applies at once; a cut applies after the notice period, unless the caller has no deposit.
     */
    function setSpendingCap(address token, uint256 spendingCap) external;

    /**
     * @notice Requires (or stops requiring) the caller's signature on every settlement charged to it
     * in `token`. Turning it off applies at once; turning it on applies after the notice period,
     * or at once while the caller has no `token` deposit.
     */
    function setCosigning(address token, bool required) external;

    /**
     * @notice Asks to withdraw `amount` of unused `token` deposit, fixed at no more than the
     * deposit now, once the notice period has passed and before one more notice period has;
     * replaces an earlier request and restarts the notice period. 0 (or no deposit) cancels.
     * Deposits made later are not withdrawable under this request. Settlement goes on during the
     * notice period, within the caps.
     */
    function requestWithdrawal(address token, uint256 amount) external;

    /// @notice Pays the requested amount, or the whole deposit if less is left, to `to`, between
    /// `withdrawableAt` and the request's lapse one notice period later.
    function withdrawDeposit(address token, address to) external returns (uint256 amount);

    /**
     * @notice Charges `buyer` for `items` in `token` and accrues each item to its split version.
     * An item of a superseded version is skipped ({UsageItemSkipped}) and not charged; otherwise all
     * or nothing: any item over a cap, or a total beyond the deposit or the spending cap, reverts.
     * Each (`usageRoot`, `buyer`, `token`) settles once. Refused for co-signing buyers.
     */
    function settle(address buyer, address token, bytes32 usageRoot, UsageItem[] calldata items)
        external
        returns (uint256 total);

    /**
     * @notice {settle} with `buyer`'s EIP-712 signature of
     * `Settlement(address buyer,address token,bytes32 usageRoot,UsageItem[] items,uint256 total,uint256 deadline)UsageItem(bytes32 assetKey,uint32 version,uint256 units)`,
     * where `total` is what all `items` cost at their versions; skipped items are not charged.
     */
    function settleCosigned(
        address buyer,
        address token,
        bytes32 usageRoot,
        UsageItem[] calldata items,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256 total);

    /// @notice Pays `payee` what is due to it from split `version` of `assetKey`; anyone may call.
    function release(bytes32 assetKey, uint32 version, address payee) external returns (uint256 amount);

    /// @notice Pays `payee`, in one transfer, what is due to it from every split version in
    /// `refs`, all priced in `token`; anyone may call.
    function releaseBatch(address payee, address token, SplitRef[] calldata refs) external returns (uint256 total);

    /// @notice Stops deposits and settlement; withdrawals and releases stay open.
    function pause() external;

    /// @notice Lifts {pause}.
    function unpause() external;

    /// @notice `keccak256(abi.encode(owner, assetId))`.
    function assetKeyOf(address owner, bytes32 assetId) external pure returns (bytes32);

    /// @notice The account that owns split `assetKey` (zero if none).
    function splitOwner(bytes32 assetKey) external view returns (address);

    /// @notice The latest version of split `assetKey` (0 if none).
    function latestVersion(bytes32 assetKey) external view returns (uint32);

    /// @notice Split `version` of `assetKey`; reverts if it does not exist.
    function splitVersion(bytes32 assetKey, uint32 version) external view returns (SplitVersionInfo memory);

    /// @notice `payee`'s share in basis points in split `version` of `assetKey` (0 if none).
    function shareOf(bytes32 assetKey, uint32 version, address payee) external view returns (uint256);

    /// @notice What split `version` of `assetKey` has paid to `payee` so far.
    function released(bytes32 assetKey, uint32 version, address payee) external view returns (uint256);

    /// @notice What {release} would pay `payee` now.
    function releasable(bytes32 assetKey, uint32 version, address payee) external view returns (uint256);

    /// @notice `buyer`'s deposit, spending, caps, co-signing and pending withdrawal in `token`.
    function account(address buyer, address token) external view returns (BuyerAccount memory);

    /// @notice The highest price per unit of `token` `buyer` pays for `assetKey` now (0: refused).
    function maxPricePerUnit(address buyer, address token, bytes32 assetKey) external view returns (uint256);

    /// @notice A lower maximum price waiting for its notice period, and when it applies (0, 0 if none).
    function pendingMaxPrice(address buyer, address token, bytes32 assetKey)
        external
        view
        returns (uint256 maxPrice, uint64 effectiveAt);

    /// @notice Whether settlements charged to `buyer` in `token` need its signature now.
    function cosigning(address buyer, address token) external view returns (bool);

    /// @notice Whether `usageRoot` was settled for `buyer` in `token`.
    function isSettled(bytes32 usageRoot, address buyer, address token) external view returns (bool);

    /**
     * @notice What {settle} would charge now (items of superseded versions skipped); reverts with
     * the error {settle} would raise
     * (except for role, pause and signature checks), so a metering service can hold usage that
     * would not go through.
     */
    function quote(address buyer, address token, bytes32 usageRoot, UsageItem[] calldata items)
        external
        view
        returns (uint256 total);

    /// @notice The EIP-712 digest a co-signing buyer signs for {settleCosigned}.
    function settlementDigest(
        address buyer,
        address token,
        bytes32 usageRoot,
        UsageItem[] calldata items,
        uint256 total,
        uint256 deadline
    ) external view returns (bytes32);

    /// @notice The EIP-712 digest `owner` signs for {setSplitWithSig}.
    function splitTermsDigest(address owner, SplitTerms calldata terms, uint256 deadline)
        external
        view
        returns (bytes32);

    /// @notice Seconds between a withdrawal request and the withdrawal, and between the withdrawal
    /// becoming payable and the request lapsing.
    function noticePeriod() external view returns (uint64);

    /// @notice Whether `owner` cancelled its signature of the split terms with EIP-712 `digest`.
    function splitTermsCancelled(address owner, bytes32 digest) external view returns (bool);
}
