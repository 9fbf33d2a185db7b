// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RoyaltySplitter} from "../src/RoyaltySplitter.sol";
import {IRoyaltySplitter} from "../src/interfaces/IRoyaltySplitter.sol";
import {SplitterBase} from "./splitter/SplitterBase.sol";
import {MockWallet} from "./splitter/SplitterMocks.sol";

/// @dev Co-signed settlement: the buyer's EIP-712 signature over the usage root, items and total.
contract RoyaltySplitterCosignTest is SplitterBase {
    // secp256k1 group order: (r, n - s) is the high-s twin of a valid (r, s).
    uint256 private constant N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    bytes32 internal key;
    IRoyaltySplitter.UsageItem[] internal items;
    uint256 internal deadline;

    function setUp() public override {
        super.setUp();
        key = _createSplit(ASSET, address(token), 10);
        // Before the deposit, so co-signing applies at once.
        vm.prank(buyer);
        splitter.setCosigning(address(token), true);
        _fund(address(token), key, 10, 1000);
        items.push(IRoyaltySplitter.UsageItem(key, 1, 3));
        items.push(IRoyaltySplitter.UsageItem(key, 1, 4));
        deadline = block.timestamp + 1 hours;
    }

    function test_settleCosigned_acceptsBuyerSignature() public {
        bytes memory sig = _signSettlement(buyerKey, buyer, address(token), "root", items, 70, deadline);
        assertEq(_settleCosigned("root", sig), 70);
        assertEq(splitter.account(buyer, address(token)).deposit, 930);
        assertTrue(splitter.isSettled("root", buyer, address(token)));
    }

    function test_settleCosigned_worksForNonCosigningBuyerToo() public {
        vm.prank(buyer);
        splitter.setCosigning(address(token), false);
        bytes memory sig = _signSettlement(buyerKey, buyer, address(token), "root", items, 70, deadline);
        assertEq(_settleCosigned("root", sig), 70);
    }

    function test_settleCosigned_revertsOnWrongSigner() public {
        bytes memory sig = _signSettlement(creatorKey, buyer, address(token), "root", items, 70, deadline);
        _expectInvalid("root", sig);
    }

    function test_settleCosigned_revertsOnHighS() public {
        bytes32 digest = splitter.settlementDigest(buyer, address(token), "root", items, 70, deadline);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(buyerKey, digest);
        bytes memory twin = abi.encodePacked(r, bytes32(N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        assertEq(ecrecover(digest, v == 27 ? 28 : 27, r, bytes32(N - uint256(s))), buyer);
        _expectInvalid("root", twin);
    }

    function test_settleCosigned_revertsOnMalformedSignature() public {
        bytes memory sig = _signSettlement(buyerKey, buyer, address(token), "root", items, 70, deadline);
        bytes memory short = new bytes(64);
        for (uint256 i = 0; i < 64; ++i) short[i] = sig[i];
        _expectInvalid("root", short);
        _expectInvalid("root", "");
    }

    function test_settleCosigned_revertsOnReplay() public {
        bytes memory sig = _signSettlement(buyerKey, buyer, address(token), "root", items, 70, deadline);
        _settleCosigned("root", sig);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoyaltySplitter.RoyaltySplitterAlreadySettled.selector, ROOT, buyer, address(token)
            )
        );
        _settleCosigned("root", sig);
        // The same signature under another root does not verify either.
        _expectInvalid("other", sig);
    }

    function test_settleCosigned_revertsWhenItemsOrTotalDiffer() public {
        bytes memory sig = _signSettlement(buyerKey, buyer, address(token), "root", items, 70, deadline);
        items[1].units = 5;
        _expectInvalid("root", sig);
        items[1].units = 4;
        bytes memory lowTotal = _signSettlement(buyerKey, buyer, address(token), "root", items, 69, deadline);
        _expectInvalid("root", lowTotal);
    }

    function test_settleCosigned_revertsWhenExpired() public {
        bytes memory sig = _signSettlement(buyerKey, buyer, address(token), "root", items, 70, deadline);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterSignatureExpired.selector, deadline));
        _settleCosigned("root", sig);
    }

    function test_settleCosigned_stillEnforcesCaps() public {
        vm.prank(buyer);
        splitter.setSpendingCap(address(token), 69);
        vm.warp(block.timestamp + NOTICE);
        deadline = block.timestamp + 1 hours;
        bytes memory sig = _signSettlement(buyerKey, buyer, address(token), "root", items, 70, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterSpendingCapExceeded.selector, 70, 69)
        );
        _settleCosigned("root", sig);
    }

    function test_settleCosigned_requiresMeterRole() public {
        bytes memory sig = _signSettlement(buyerKey, buyer, address(token), "root", items, 70, deadline);
        vm.expectRevert(
            abi.encodeWithSignature(
                "AccessControlUnauthorizedAccount(address,bytes32)", buyer, splitter.METER_ROLE()
            )
        );
        vm.prank(buyer);
        splitter.settleCosigned(buyer, address(token), "root", items, deadline, sig);
    }

    function test_settleCosigned_acceptsErc1271Buyer() public {
        MockWallet wallet = new MockWallet(buyer);
        _deposit(address(wallet), address(token), 100);
        _allow(address(wallet), address(token), key, 10, 100);
        bytes memory sig = _signSettlement(buyerKey, address(wallet), address(token), "root", items, 70, deadline);
        vm.prank(meter);
        assertEq(splitter.settleCosigned(address(wallet), address(token), "root", items, deadline, sig), 70);
    }

    function test_settlementDigest_matchesManualEip712() public {
        bytes32 itemType = keccak256("UsageItem(bytes32 assetKey,uint32 version,uint256 units)");
        bytes32 itemsHash = keccak256(
            abi.encode(
                keccak256(abi.encode(itemType, key, uint256(1), uint256(3))),
                keccak256(abi.encode(itemType, key, uint256(1), uint256(4)))
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Settlement(address buyer,address token,bytes32 usageRoot,UsageItem[] items,uint256 total,"
                    "uint256 deadline)UsageItem(bytes32 assetKey,uint32 version,uint256 units)"
                ),
                buyer,
                address(token),
                ROOT,
                itemsHash,
                uint256(70),
                deadline
            )
        );
        (, string memory name, string memory version, uint256 chainId, address verifying,,) =
            splitter.eip712Domain();
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes(name)),
                keccak256(bytes(version)),
                chainId,
                verifying
            )
        );
        assertEq(
            splitter.settlementDigest(buyer, address(token), "root", items, 70, deadline),
            keccak256(abi.encodePacked("\x19\x01", domain, structHash))
        );
    }

    /// @dev Digests and signatures made in Python with eth-account's `encode_typed_data` for a
    /// splitter at 0x…05911773 on chain 31337: the service's encoding must match the contract's.
    function test_digests_matchEthAccountVectors() public {
        address at = address(0x5911773);
        vm.etch(at, address(splitter).code);
        RoyaltySplitter fixed_ = RoyaltySplitter(payable(at));
        address vecToken = address(0x70C0);
        bytes32 assetKey = splitter.assetKeyOf(creator, keccak256("asset-1"));
        assertEq(assetKey, 0x7a792d5fcbab378679884ae383afdec91f9457282cbc356982ecfba5616cb894);

        IRoyaltySplitter.UsageItem[] memory vecItems = new IRoyaltySplitter.UsageItem[](2);
        vecItems[0] = IRoyaltySplitter.UsageItem(assetKey, 1, 7);
        vecItems[1] = IRoyaltySplitter.UsageItem(keccak256("other"), 3, 1000);
        bytes32 digest =
            fixed_.settlementDigest(buyer, vecToken, keccak256("usage-root"), vecItems, 12_345, 1_700_003_600);
        assertEq(digest, 0x31fb6620b95880828ad54e94f084952107b06af1f9aadd3869eab589a00aeba2);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(buyerKey, digest);
        assertEq(
            abi.encodePacked(r, s, v),
            hex"286d81a67870dd530c49fe200ec786a519b8ecdbc60df57918476ab4ff1d2edd14c901ef31d1dbf2f969f8045b806777ded99d88d88c3ee49480321f43615e4c1c"
        );

        address[] memory payees = new address[](2);
        (payees[0], payees[1]) = (alice, bob);
        uint16[] memory shares = new uint16[](2);
        (shares[0], shares[1]) = (9000, 1000);
        IRoyaltySplitter.SplitTerms memory terms = IRoyaltySplitter.SplitTerms({
            assetId: keccak256("asset-1"),
            version: 1,
            manifestDigest: keccak256("manifest v1"),
            token: vecToken,
            pricePerUnit: 3,
            payees: payees,
            shares: shares
        });
        digest = fixed_.splitTermsDigest(creator, terms, 1_700_003_600);
        assertEq(digest, 0x8ad4bb52676c7139575e5fa9e79b739bce06dcb2b4f28c1be9ac3dba7a96a0b0);
        (v, r, s) = vm.sign(creatorKey, digest);
        assertEq(
            abi.encodePacked(r, s, v),
            hex"8c4591bedd24e1c8f5311fb20ef41d04acd600d9dbf3c0120b16593b423e5b3e3be1e61d805f34ab73d3230eef2e49042dabb6e496604865bd3af15590a931301c"
        );
    }

    function _settleCosigned(bytes32 root, bytes memory sig) private returns (uint256) {
        vm.prank(meter);
        return splitter.settleCosigned(buyer, address(token), root, items, deadline, sig);
    }

    function _expectInvalid(bytes32 root, bytes memory sig) private {
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInvalidSignature.selector));
        _settleCosigned(root, sig);
    }
}
