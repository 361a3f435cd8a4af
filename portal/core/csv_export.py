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


# What a spreadsheet may take for the start of a formula (OWASP "CSV injection"): = + - @, and tab or
# carriage return, which some programs drop before they look at the next character. Digits after + or -
# do not make a cell safe: `-1+cmd|' /C calc'!A0` and `+1+1` are formulas too.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """Keep a spreadsheet from running a cell as a formula: a text cell that begins with a formula
    character (also after leading blanks) gets a leading apostrophe, the spreadsheet's own mark for
    "this is text" (OWASP's defusal). A phone number in E.164 form is such a cell, on purpose: as
    `'+8613800138000` it stays the text +8613800138000, all digits readable, where bare it would be
    computed as a number and shown as 8.61E+12. Cells that are numbers (counts) carry no formula and
    are left alone."""
    if isinstance(value, str) and (value[:1] in FORMULA_PREFIXES or value.lstrip()[:1] in FORMULA_PREFIXES):
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
