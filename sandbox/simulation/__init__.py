"""A simulated day under load and faults, this app against the naive approach: `python -m sandbox.simulation`.

world.py generates the day and its ground truth, run.py drives the real app (two instances) and the naive
alerter on the sandbox clock, score.py matches the emails on-call received back to the incidents.
"""
