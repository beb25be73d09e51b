"""The jamsos external contract in code (shared/CONTRACT.md): topic names and event models."""
