// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IRoyaltySplitter} from "../../src/interfaces/IRoyaltySplitter.sol";

/// @dev A plain ERC-20 anyone can mint.
contract MockERC20 is ERC20 {
    constructor(string memory name_) ERC20(name_, name_) {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

/// @dev Burns 1% (at least 1 unit) of every transfer between two accounts.
contract FeeOnTransferERC20 is ERC20 {
    constructor() ERC20("Fee", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0) || value == 0) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = value / 100 == 0 ? 1 : value / 100;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}

/// @dev Reports a balance increase larger than what was sent (a rebasing token at its worst).
contract InflatingERC20 is ERC20 {
    constructor() ERC20("Inflating", "INF") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from != address(0) && to != address(0)) super._update(address(0), to, 1);
    }
}

/// @dev A payee that, when paid ETH, tries to take more by calling back into the splitter.
contract ReentrantPayee {
    IRoyaltySplitter private immutable _splitter;
    bytes private _reentry;
    bool public reentrySucceeded;
    bytes public reentryError;
    uint256 public received;

    constructor(IRoyaltySplitter splitter) {
        _splitter = splitter;
    }

    function setReentry(bytes calldata reentry) external {
        _reentry = reentry;
    }

    receive() external payable {
        received += msg.value;
        if (_reentry.length == 0) return;
        bytes memory reentry = _reentry;
        delete _reentry;
        (bool ok, bytes memory err) = address(_splitter).call(reentry);
        reentrySucceeded = ok;
        reentryError = err;
    }
}

/// @dev A payee that refuses every ETH transfer.
contract RejectingPayee {
    error RejectingPayeeRefused();

    receive() external payable {
        revert RejectingPayeeRefused();
    }
}

/// @dev A contract account (a smart wallet) that accepts its owner's ECDSA signatures via ERC-1271.
contract MockWallet is IERC1271 {
    address private immutable _owner;

    constructor(address owner) {
        _owner = owner;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && signer == _owner ? IERC1271.isValidSignature.selector : bytes4(0);
    }
}
