"""`python -m gankit` runs the command line."""

from gankit.cli import main

raise SystemExit(main())
