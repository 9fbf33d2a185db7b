"""Sending transactions exactly once: the state machine, the sender, the journal, signers."""
