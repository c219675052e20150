"""Plain helpers with no I/O, shared by the subsystems."""
