// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RoyaltySplitter} from "../src/RoyaltySplitter.sol";
import {IRoyaltySplitter} from "../src/interfaces/IRoyaltySplitter.sol";
import {SplitterBase} from "./splitter/SplitterBase.sol";
import {MockWallet} from "./splitter/SplitterMocks.sol";

/// @dev Construction, split creation, versioning and signed registration.
contract RoyaltySplitterSplitsTest is SplitterBase {
    function test_constructor_setsAdminAndNoticePeriod() public {
        assertTrue(splitter.hasRole(splitter.DEFAULT_ADMIN_ROLE(), admin));
        assertEq(uint256(splitter.noticePeriod()), uint256(NOTICE));
        assertEq(splitter.MAX_PAYEES(), 32);
        assertEq(splitter.TOTAL_SHARES(), 10_000);
    }

    function test_constructor_revertsOnZeroAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterZeroAddress.selector));
        new RoyaltySplitter(address(0), NOTICE);
    }

    function test_constructor_revertsOnNoticePeriodOutOfRange() public {
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInvalidNoticePeriod.selector, 0));
        new RoyaltySplitter(admin, 0);
        uint64 tooLong = 365 days + 1;
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInvalidNoticePeriod.selector, tooLong));
        new RoyaltySplitter(admin, tooLong);
    }

    function test_assetKeyOf_isHashOfOwnerAndAssetId() public {
        assertEq(splitter.assetKeyOf(creator, ASSET), keccak256(abi.encode(creator, ASSET)));
    }

    function test_setSplit_recordsVersionAndEmits() public {
        (address[] memory payees, uint16[] memory shares) = _threePayees();
        IRoyaltySplitter.SplitTerms memory terms = _terms(ASSET, 1, address(token), 7, payees, shares);
        bytes32 key = keccak256(abi.encode(creator, ASSET));
        vm.expectEmit(address(splitter));
        emit IRoyaltySplitter.SplitVersionCreated(
            key, 1, creator, ASSET, terms.manifestDigest, address(token), 7, payees, shares
        );
        vm.prank(creator);
        assertEq(splitter.setSplit(terms), key);

        assertEq(splitter.splitOwner(key), creator);
        assertEq(uint256(splitter.latestVersion(key)), 1);
        IRoyaltySplitter.SplitVersionInfo memory info = splitter.splitVersion(key, 1);
        assertEq(info.manifestDigest, terms.manifestDigest);
        assertEq(info.token, address(token));
        assertEq(info.pricePerUnit, 7);
        assertEq(info.totalReceived, 0);
        assertFalse(info.superseded);
        assertEq(info.payees, payees);
        assertEq(uint256(info.shares[0]), 5000);
        assertEq(uint256(info.shares[1]), 3000);
        assertEq(uint256(info.shares[2]), 2000);
        assertEq(splitter.shareOf(key, 1, bob), 3000);
        assertEq(splitter.shareOf(key, 1, creator), 0);
    }

    function test_setSplit_newVersionSupersedesAndKeepsPastRevenue() public {
        bytes32 key = _createSplit(ASSET, ETH, 10);
        _fund(ETH, key, 20, 1 ether);
        _settle(ETH, "r1", _item(key, 1, 100));

        address[] memory payees = new address[](1);
        payees[0] = carol;
        uint16[] memory shares = new uint16[](1);
        shares[0] = 10_000;
        vm.prank(creator);
        splitter.setSplit(_terms(ASSET, 2, ETH, 20, payees, shares));

        assertEq(uint256(splitter.latestVersion(key)), 2);
        IRoyaltySplitter.SplitVersionInfo memory old = splitter.splitVersion(key, 1);
        assertTrue(old.superseded);
        assertEq(old.totalReceived, 1000);
        assertEq(splitter.releasable(key, 1, alice), 500);
        assertEq(splitter.releasable(key, 2, carol), 0);

        _settle(ETH, "r2", _item(key, 2, 1));
        assertEq(splitter.releasable(key, 2, carol), 20);
        assertEq(splitter.releasable(key, 1, carol), 200);
    }

    function test_setSplit_sameAssetIdOfAnotherOwnerIsAnotherSplit() public {
        bytes32 mine = _createSplit(ASSET, ETH, 10);
        (address[] memory payees, uint16[] memory shares) = _threePayees();
        address squatter = address(0x5A7);
        vm.prank(squatter);
        bytes32 theirs = splitter.setSplit(_terms(ASSET, 1, ETH, 99, payees, shares));
        assertNotEq(mine, theirs);
        assertEq(splitter.splitOwner(mine), creator);
        assertEq(splitter.splitOwner(theirs), squatter);
        assertEq(uint256(splitter.latestVersion(mine)), 1);
    }

    function test_setSplit_acceptsThirtyTwoPayees() public {
        (address[] memory payees, uint16[] memory shares) = _manyPayees(32);
        vm.prank(creator);
        bytes32 key = splitter.setSplit(_terms(ASSET, 1, ETH, 1, payees, shares));
        assertEq(splitter.splitVersion(key, 1).payees.length, 32);
    }

    function test_setSplit_revertsOnPayeeCount() public {
        (address[] memory payees, uint16[] memory shares) = _manyPayees(33);
        _expectTermsRevert(
            _terms(ASSET, 1, ETH, 1, payees, shares),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInvalidPayeeCount.selector, 33)
        );
        _expectTermsRevert(
            _terms(ASSET, 1, ETH, 1, new address[](0), new uint16[](0)),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInvalidPayeeCount.selector, 0)
        );
    }

    function test_setSplit_revertsOnLengthMismatch() public {
        (address[] memory payees,) = _threePayees();
        _expectTermsRevert(
            _terms(ASSET, 1, ETH, 1, payees, new uint16[](2)),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterLengthMismatch.selector, 3, 2)
        );
    }

    function test_setSplit_revertsOnZeroOrDuplicatePayee() public {
        (address[] memory payees, uint16[] memory shares) = _threePayees();
        payees[1] = address(0);
        _expectTermsRevert(
            _terms(ASSET, 1, ETH, 1, payees, shares),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInvalidPayee.selector, 1, address(0))
        );
        payees[1] = bob;
        payees[2] = alice;
        _expectTermsRevert(
            _terms(ASSET, 1, ETH, 1, payees, shares),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInvalidPayee.selector, 2, alice)
        );
    }

    function test_setSplit_revertsOnBadShares() public {
        (address[] memory payees, uint16[] memory shares) = _threePayees();
        (shares[0], shares[2]) = (7000, 0);
        _expectTermsRevert(
            _terms(ASSET, 1, ETH, 1, payees, shares),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterZeroShare.selector, 2)
        );
        (shares[0], shares[2]) = (5000, 1999);
        _expectTermsRevert(
            _terms(ASSET, 1, ETH, 1, payees, shares),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInvalidShares.selector, 9999)
        );
    }

    function test_setSplit_revertsOnZeroPriceDigestOrNonContractToken() public {
        (address[] memory payees, uint16[] memory shares) = _threePayees();
        _expectTermsRevert(
            _terms(ASSET, 1, ETH, 0, payees, shares),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterZeroPrice.selector)
        );
        IRoyaltySplitter.SplitTerms memory terms = _terms(ASSET, 1, ETH, 1, payees, shares);
        terms.manifestDigest = bytes32(0);
        _expectTermsRevert(terms, abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterZeroManifestDigest.selector));
        _expectTermsRevert(
            _terms(ASSET, 1, alice, 1, payees, shares),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInvalidToken.selector, alice)
        );
    }

    function test_setSplit_revertsOnVersionOutOfSequence() public {
        (address[] memory payees, uint16[] memory shares) = _threePayees();
        bytes32 key = splitter.assetKeyOf(creator, ASSET);
        _expectTermsRevert(
            _terms(ASSET, 0, ETH, 1, payees, shares),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterVersionMismatch.selector, key, 1, 0)
        );
        _expectTermsRevert(
            _terms(ASSET, 2, ETH, 1, payees, shares),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterVersionMismatch.selector, key, 1, 2)
        );
        _createSplit(ASSET, ETH, 1);
        _expectTermsRevert(
            _terms(ASSET, 1, ETH, 1, payees, shares),
            abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterVersionMismatch.selector, key, 2, 1)
        );
    }

    /// @dev Any payee count and shares: accepted exactly when every share is non-zero and they sum to 10,000.
    function testFuzz_setSplit_acceptsExactlyValidShares(uint16[8] memory raw, uint256 count, bool fix) public {
        count = _bound(count, 1, 8);
        address[] memory payees = new address[](count);
        uint16[] memory shares = new uint16[](count);
        uint256 sum = 0;
        bool zero = false;
        for (uint256 i = 0; i < count; ++i) {
            payees[i] = vm.addr(100 + i);
            shares[i] = uint16(_bound(raw[i], 0, 10_000));
            // forge-lint: disable-next-line(unsafe-typecast)
            if (fix && i + 1 == count) shares[i] = sum < 10_000 ? uint16(10_000 - sum) : 0;
            sum += shares[i];
            zero = zero || shares[i] == 0;
        }
        vm.prank(creator);
        try splitter.setSplit(_terms(ASSET, 1, ETH, 1, payees, shares)) returns (bytes32 key) {
            assertTrue(!zero && sum == 10_000);
            for (uint256 i = 0; i < count; ++i) {
                assertEq(splitter.shareOf(key, 1, payees[i]), shares[i]);
            }
        } catch {
            assertTrue(zero || sum != 10_000);
        }
    }

    function test_splitVersion_revertsOnUnknownVersion() public {
        bytes32 key = _createSplit(ASSET, ETH, 1);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterUnknownVersion.selector, 0, key, 2));
        splitter.splitVersion(key, 2);
    }

    // ------------------------------------------------------------ setSplitWithSig

    function test_setSplitWithSig_registersForTheSigner() public {
        IRoyaltySplitter.SplitTerms memory terms = _defaultTerms(1);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _signTerms(creatorKey, creator, terms, deadline);
        vm.prank(address(0x5E4F1CE));
        bytes32 key = splitter.setSplitWithSig(creator, terms, deadline, sig);
        assertEq(key, splitter.assetKeyOf(creator, ASSET));
        assertEq(splitter.splitOwner(key), creator);
    }

    function test_setSplitWithSig_matchesManualEip712Digest() public {
        IRoyaltySplitter.SplitTerms memory terms = _defaultTerms(1);
        bytes32 typeHash = keccak256(
            "SplitTerms(address owner,bytes32 assetId,uint32 version,bytes32 manifestDigest,address token,"
            "uint96 pricePerUnit,address[] payees,uint16[] shares,uint256 deadline)"
        );
        bytes32 structHash = keccak256(
            abi.encode(
                typeHash,
                creator,
                terms.assetId,
                uint256(terms.version),
                terms.manifestDigest,
                terms.token,
                uint256(terms.pricePerUnit),
                keccak256(abi.encode(alice, bob, carol)),
                keccak256(abi.encode(uint256(5000), uint256(3000), uint256(2000))),
                uint256(99)
            )
        );
        assertEq(splitter.splitTermsDigest(creator, terms, 99), _typedDigest(structHash));
    }

    function test_setSplitWithSig_revertsOnWrongSigner() public {
        IRoyaltySplitter.SplitTerms memory terms = _defaultTerms(1);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _signTerms(buyerKey, creator, terms, deadline);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInvalidSignature.selector));
        splitter.setSplitWithSig(creator, terms, deadline, sig);
    }

    function test_setSplitWithSig_revertsOnAlteredTerms() public {
        IRoyaltySplitter.SplitTerms memory terms = _defaultTerms(1);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _signTerms(creatorKey, creator, terms, deadline);
        terms.shares[0] = 4000;
        terms.shares[1] = 4000;
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterInvalidSignature.selector));
        splitter.setSplitWithSig(creator, terms, deadline, sig);
    }

    function test_setSplitWithSig_revertsWhenExpired() public {
        IRoyaltySplitter.SplitTerms memory terms = _defaultTerms(1);
        uint256 deadline = block.timestamp - 1;
        bytes memory sig = _signTerms(creatorKey, creator, terms, deadline);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterSignatureExpired.selector, deadline));
        splitter.setSplitWithSig(creator, terms, deadline, sig);
    }

    function test_setSplitWithSig_cannotBeReplayed() public {
        IRoyaltySplitter.SplitTerms memory terms = _defaultTerms(1);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _signTerms(creatorKey, creator, terms, deadline);
        bytes32 key = splitter.setSplitWithSig(creator, terms, deadline, sig);
        vm.expectRevert(abi.encodeWithSelector(IRoyaltySplitter.RoyaltySplitterVersionMismatch.selector, key, 2, 1));
        splitter.setSplitWithSig(creator, terms, deadline, sig);
    }

    function test_setSplitWithSig_acceptsErc1271Owner() public {
        MockWallet wallet = new MockWallet(creator);
        IRoyaltySplitter.SplitTerms memory terms = _defaultTerms(1);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _signTerms(creatorKey, address(wallet), terms, deadline);
        bytes32 key = splitter.setSplitWithSig(address(wallet), terms, deadline, sig);
        assertEq(splitter.splitOwner(key), address(wallet));
    }

    // ------------------------------------------------------------ helpers

    function _defaultTerms(uint32 version) private view returns (IRoyaltySplitter.SplitTerms memory) {
        (address[] memory payees, uint16[] memory shares) = _threePayees();
        return _terms(ASSET, version, address(token), 3, payees, shares);
    }

    function _signTerms(uint256 key, address owner, IRoyaltySplitter.SplitTerms memory terms, uint256 deadline)
        private
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, splitter.splitTermsDigest(owner, terms, deadline));
        return abi.encodePacked(r, s, v);
    }

    function _typedDigest(bytes32 structHash) private view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("RoyaltySplitter"),
                keccak256("1"),
                block.chainid,
                address(splitter)
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function _manyPayees(uint256 count) private pure returns (address[] memory payees, uint16[] memory shares) {
        payees = new address[](count);
        shares = new uint16[](count);
        uint256 left = 10_000;
        for (uint256 i = 0; i < count; ++i) {
            payees[i] = vm.addr(0x1000 + i);
            shares[i] = uint16(i + 1 == count ? left : 10_000 / count);
            left -= shares[i];
        }
    }

    function _expectTermsRevert(IRoyaltySplitter.SplitTerms memory terms, bytes memory err) private {
        vm.expectRevert(err);
        vm.prank(creator);
        splitter.setSplit(terms);
    }
}
