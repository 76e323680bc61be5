"""guardian's state store: its records of runs, check results and jobs."""

from guardian.state.records import JobStatus, RunSummary
from guardian.state.store import StateStore

__all__ = ["JobStatus", "RunSummary", "StateStore"]
