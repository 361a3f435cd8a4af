"""Statistics of carriers' renewals (主动焕新, portal/carrier/): per carrier and channel, how many, the
share done within the deadline (UNBIND_WORKING_DAYS working days) of those due, and the median time to
done. For the regulators' dashboard, and for the open data with the same suppression
(complaints.statistics.suppress). Renewals carry no province: a provincial view has none."""

import datetime as dt

from django.db import connection
from django.utils import timezone

from complaints.statistics.filters import Filters, local_midnight
from complaints.statistics.public import suppress, suppress_table
from portal.carrier.models import CarrierAction
from registry.models import Organisation

RENEWALS_SQL = """
SELECT carrier_id, channel, count(*),
       count(*) FILTER (WHERE completed_at IS NOT NULL OR deadline_at < %(now)s),
       count(*) FILTER (WHERE completed_at IS NOT NULL),
       count(*) FILTER (WHERE completed_at <= deadline_at),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at))
           FILTER (WHERE completed_at IS NOT NULL)
FROM portal_carrieraction
WHERE kind = 'renewal' AND created_at >= %(start)s AND created_at < %(end)s {carrier}
GROUP BY 1, 2 ORDER BY 1, 2
"""


def renewal_rows(filters: Filters) -> list[dict] | None:
    """One row per carrier and channel: renewals, due (done or past the deadline), done, done within the
    deadline, its share of those due, and the median hours from request to done. None for a province."""
    if filters.province:
        return None
    params = {
        "now": timezone.now(),
        "start": local_midnight(filters.start),
        "end": local_midnight(filters.end + dt.timedelta(days=1)),
        "carrier": filters.carrier,
    }
    sql = RENEWALS_SQL.format(carrier="AND carrier_id = %(carrier)s" if filters.carrier else "")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    names = dict(Organisation.objects.filter(pk__in={r[0] for r in found}).values_list("pk", "legal_name"))
    channels = dict(CarrierAction.Channel.choices)
    return [
        {
            "key": f"{carrier}:{channel}",
            "carrier": names.get(carrier, ""),
            "channel": str(channels.get(channel, channel)),
            "renewals": renewals,
            "due": due,
            "done": done,
            "within_deadline": within,
            "within_deadline_share": round(within / due, 3) if due else None,
            "median_hours": round(median / 3600, 1) if median is not None else None,
        }
        for carrier, channel, renewals, due, done, within, median in found
    ]


def renewal_public_rows(filters: Filters) -> list[dict]:
    """The open data's renewals: counts under the threshold hidden (with one more where a single hidden
    cell would follow from the others), a share or median only over enough renewals."""
    rows = suppress_table(renewal_rows(Filters(start=filters.start, end=filters.end)) or [], "renewals")
    rows = suppress_table(rows, "due")
    for row in rows:
        if row["renewals"] is None or row["due"] is None:
            row.update(done=None, within_deadline=None, within_deadline_share=None)
        if suppress(row["done"]) is None:
            row.update(done=None, median_hours=None)
        if row["within_deadline"] is not None and suppress(row["within_deadline"]) is None:
            row["within_deadline"] = None  # the share (over enough due renewals) stays
    return rows


def renewal_csv_rows(rows: list[dict]):
    """The open data CSV's lines for renewals (table, key, label, measure, value), after its other tables."""
    for row in rows:
        for measure in ("renewals", "due", "done", "within_deadline_share", "median_hours"):
            yield [
                "renewals",
                row["key"],
                f"{row['carrier']} · {row['channel']}",
                measure,
                "" if row[measure] is None else row[measure],
            ]
