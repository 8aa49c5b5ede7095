from vault_cli.cli import main

main()
