"""Entry point for `pulumi preview` and `pulumi up`: see program.py and README.md."""

from program import main

main()
