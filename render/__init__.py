"""Pure rendering: Settings in, file contents and shell scripts out. No Pulumi here."""
