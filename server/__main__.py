"""`python -m server ...` is the `signage` command (serve uses it to start the scheduler process)."""

from .cli import main

main()
