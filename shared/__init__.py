"""AML pipeline alerting: the logic behind the Function App (see README.md)."""
