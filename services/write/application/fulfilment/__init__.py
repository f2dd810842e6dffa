"""The fulfilment process: one instance per order with tracked lines, run by one replica over
the commit-ordered log (see runner.py), deciding with the domain's fulfilment rules."""
