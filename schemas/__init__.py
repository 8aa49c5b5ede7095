# Makes schemas/ importable as vault_cli.schemas when installed; holds only JSON Schemas.
