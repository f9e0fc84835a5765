"""Benchmarks: `command` (the `pyuniproc bench` subcommand) and `naive` (the peer loop it compares
against, importable without the runtime's dependencies)."""
