"""confide: an encrypted, git-backed vault for an early-years setting's confidential records.

The package is a library first. The modules below know nothing of the command
line; ``vault_cli.cli`` is a thin layer that parses arguments, calls one
library function and renders the result.
"""

__version__ = "0.1.0"
