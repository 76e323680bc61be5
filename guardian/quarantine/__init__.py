"""Quarantine: violating rows moved or copied out of the way, a ledger, release.

Modules: ``spec`` (the on_violation action and the ``quarantine:``
settings), ``tables`` (the quarantine schema and its tables), ``rows``
(checksum and key expressions), ``dependents`` (foreign keys pointing at a
table), ``plan`` (what a move would do, and the budget), ``move``,
``cascade``, ``release``, ``copies`` and ``purge`` (doing it), ``entries``
(reading what is held),
``ledger`` (the state store's record) and ``actions`` (what a run calls).
"""
