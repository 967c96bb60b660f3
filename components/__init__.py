"""Component resources: they wire rendered files and scripts into Pulumi resources and order them."""
