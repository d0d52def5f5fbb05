"""The operator CLI: `python starter.py --help`. The commands live in the `cli` package."""

from cli.app import main

if __name__ == "__main__":
    main()
