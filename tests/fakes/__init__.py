"""In-memory stand-ins for the chain, for unit tests of the money path."""
