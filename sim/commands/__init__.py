"""CLI subcommands, one module each (see sim.cli)."""
