// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// Brings the splitter gas benchmark's baseline into the forge build: OpenZeppelin 4.8.1's
// `PaymentSplitter` (removed from OpenZeppelin 5), compiled by the same solc 0.8.28, and the
// plain ERC-20 both splitters pay out in. `bench/gas_splitter.py` deploys them from the build output.
import {PaymentSplitter} from "openzeppelin-solidity/contracts/finance/PaymentSplitter.sol";
import {MockERC20} from "../splitter/SplitterMocks.sol";

/// @dev Empty: forge's linter warns "AST source not found" on a file that only imports.
library SplitterBenchTargets {}
