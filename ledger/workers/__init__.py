"""Background loops of a serving replica: batcher and anchorer, settler, leader lease,
and the journal that makes their transactions exactly-once."""
