"""Royalty tests run on a real anvil with both contracts deployed."""

from tests.integration.chain.conftest import (  # noqa: F401
    anchorer,
    anvil,
    deployer,
    deployment,
    meter,
    w3,
)
