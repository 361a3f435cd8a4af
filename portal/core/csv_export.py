"""Every CSV the portal streams (staff exports, statistics, open data, rejected rows, bulk check results):
written a thousand rows a chunk so a million rows go out with flat memory, with a BOM so spreadsheet
programs read the Chinese as UTF-8, cells that a spreadsheet would run as formulas defused, and the
request's language kept while the rows are produced (that happens after the view has returned). And
the reader of stored CSV files (carriers' uploads, bulk check files), resumable at a byte offset."""

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


class CsvFileReader:
    """The rows of a stored CSV file from a byte offset, counting bytes and lines so the position after any
    row can be stored and resumed from. Streams: memory stays flat for a file of any size."""

    def __init__(self, path, *, position: int = 0, first_line: int = 0):
        self.file = open(path, "rb")
        self.file.seek(position)
        self.position, self.first_line = position, first_line
        self.reader = csv.reader(self._lines())

    def _lines(self):
        for raw in self.file:
            self.position += len(raw)
            yield raw.decode("utf-8", errors="replace")  # a bad byte spoils its row only: that row is rejected

    def rows(self, limit: int) -> list[tuple[int, list[str]]]:
        """Up to `limit` non-blank rows, each with the line it starts on."""
        rows = []
        while len(rows) < limit:
            line = self.first_line + self.reader.line_num + 1
            try:
                row = next(self.reader)
            except StopIteration:
                break
            except csv.Error as error:  # e.g. a quote never closed: reject what is left as one row
                rows.append((line, [str(error)]))
                break
            cells = [cell.strip() for cell in row]
            if any(cells):
                rows.append((line, cells))
        return rows

    @property
    def lines(self) -> int:
        return self.first_line + self.reader.line_num

    def close(self):
        self.file.close()
