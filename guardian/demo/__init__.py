"""The demo: Chinook, the faults it plants, and the steps of `guardian demo`."""
