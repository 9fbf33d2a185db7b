"""Clients of our contracts, bound from the forge ABI: AnchorRegistry, RoyaltySplitter."""
