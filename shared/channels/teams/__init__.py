"""Microsoft Teams: Adaptive Cards posted to Teams Workflows webhooks."""
