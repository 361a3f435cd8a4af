"""How far a file read in the background has got, as its page shows it (carriers' uploads, bulk check files)."""


def percent_done(done: int, total: int, *, completed: bool) -> int:
    """100 once completed; until then the share done, at most 99, so the bar never shows full too early."""
    if completed:
        return 100
    return min(99, done * 100 // total) if total else 0
