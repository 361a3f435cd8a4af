"""Every CSV the portal streams (staff exports, statistics, open data, rejected rows): written a thousand
rows a chunk so a million rows go out with flat memory, with a BOM so spreadsheet programs read the
Chinese as UTF-8, cells that a spreadsheet would run as formulas defused, and the request's language
kept while the rows are produced (that happens after the view has returned)."""

import csv

from django.http import StreamingHttpResponse
from django.utils import translation


class _Echo:
    def write(self, value):
        return value


def csv_cell(value):
    """Keep a spreadsheet from running a typed cell as a formula (a phone number's leading + stays)."""
    if isinstance(value, str) and (value[:1] in ("=", "@", "\t", "\r") or (value[:1] in ("+", "-") and not value[1:2].isdigit())):
        return "'" + value
    return value


def csv_response(rows, filename: str, *, bom: bool = True) -> StreamingHttpResponse:
    writer, language = csv.writer(_Echo()), translation.get_language()

    def chunks():
        with translation.override(language):
            if bom:
                yield "\ufeff"
            batch = []
            for row in rows:
                batch.append(writer.writerow([csv_cell(cell) for cell in row]))
                if len(batch) >= 1000:
                    yield "".join(batch)
                    batch = []
            if batch:
                yield "".join(batch)

    response = StreamingHttpResponse(chunks(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
