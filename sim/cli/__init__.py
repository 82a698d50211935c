"""The command-line interface: parse arguments, call an analysis, write its report."""
