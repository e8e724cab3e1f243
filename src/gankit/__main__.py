"""`python -m gankit` runs the command line."""

from gankit.cli import entry

entry()
