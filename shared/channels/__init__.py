"""Notification channels: one folder per channel (email, teams), each rendering and sending a notice."""
