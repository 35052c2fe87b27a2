"""One module per `citynode` subcommand; each defines register(subparsers)."""
