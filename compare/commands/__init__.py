"""One module per subcommand, each with ``register(subparsers)`` setting ``handler``; the options
several share are in ``arguments``."""
