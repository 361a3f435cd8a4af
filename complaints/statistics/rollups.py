"""The shape of the daily and monthly complaint rollups (`ComplaintDay`, `ComplaintMonth`): their dimensions,
measures and histogram columns, which the refresh writes and the figures read."""

import itertools

from complaints.models import ComplaintDay

MEASURES = ("received", "answered", "timely", "untimely", "rated", "satisfied", "escalated")
DAY_COLUMNS = [f"days_{n:02d}" for n in range(ComplaintDay.ANSWER_DAY_COLUMNS)]
DIM_BITS, ALL_DIMS = ComplaintDay.DIM_BITS, ComplaintDay.ALL_DIMS
DIMS = list(DIM_BITS)  # province, category, state, organisation_id, carrier_id: GROUPING() bit order
ROLLUP_DIMS = ", ".join(DIMS)
ROLLUP_COLUMNS = ", ".join((*MEASURES, *DAY_COLUMNS))
# all five dimensions, and every combination of at most two
CUBE_SETS = [DIMS] + [list(c) for n in range(3) for c in itertools.combinations(DIMS, n)]
