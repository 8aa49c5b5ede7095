from vault_cli.cli.main import main

main()
