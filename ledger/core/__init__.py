"""The pure, consensus-critical core: no I/O, no clocks, no randomness.

A change to how anything here encodes or hashes can invalidate proofs already
anchored; such a change needs a new format version and new test vectors.
"""
