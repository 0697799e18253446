"""One module per `distill-tui` subcommand; each exposes `register(subparsers)`."""
