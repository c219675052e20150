"""What is watched, as pure functions over plain data: queries, rows -> incidents, verdicts."""
