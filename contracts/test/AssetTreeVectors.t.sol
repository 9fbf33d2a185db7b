// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/**
 * @dev The 1.1 manifest's assets tree (docs/proof-format.md §6) checked on the EVM: for every
 * `onchain` entry of tests/vectors/assets.json, written by the Python core, SHA-256 of the
 * entry's canonical bytes is its entry hash, and OpenZeppelin's MerkleProof accepts the leaf
 * keccak256(keccak256(abi.encode(uint256 index, bytes32 entryHash))) exactly when expected.
 */
contract AssetTreeVectorsTest is PRBTest {

    /// @dev One `onchain` entry; fields in alphabetical order for parseJson.
    struct AssetVector {
        bytes32 entryHash;
        bytes entryJcs;
        bool expected;
        uint256 index;
        string name;
        bytes32[] proof;
        bytes32 root;
    }

    function test_Vectors_AssetLeavesAndProofs() public {
        string memory json = vm.readFile(string.concat(vm.projectRoot(), "/tests/vectors/assets.json"));
        AssetVector[] memory vectors = abi.decode(vm.parseJson(json, ".onchain"), (AssetVector[]));
        assertGt(vectors.length, 0, "assets.json has no onchain entries");
        for (uint256 i = 0; i < vectors.length; ++i) {
            AssetVector memory vector = vectors[i];
            bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(vector.index, vector.entryHash))));
            bool hashed = sha256(vector.entryJcs) == vector.entryHash;
            bool included = MerkleProof.verify(vector.proof, vector.root, leaf);
            assertEq(hashed && included, vector.expected, vector.name);
        }
    }
}
