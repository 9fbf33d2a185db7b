"""`python -m ledger.cli`."""

from ledger.cli.main import main

raise SystemExit(main())
