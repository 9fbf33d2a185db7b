"""Use cases that know no transport: provenance (intake, reads), royalty (usage,
statements), payments. They raise the domain errors of `ledger.errors`."""
