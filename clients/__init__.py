"""Clients the program itself runs on the operator's machine (no Pulumi): they ask a host or
an endpoint something, with a deadline, and say what they found."""
