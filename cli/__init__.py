"""The operator CLI behind `python starter.py` (typer commands, rich output)."""
