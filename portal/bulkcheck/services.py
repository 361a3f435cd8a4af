"""Writes for bulk check files: take a file (streamed, checked as it is stored), check it a chunk at a time,
re-queue stuck ones, delete them after the retention period."""

import codecs
import csv
import io
import logging
import os
import secrets
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.bulkcheck import selectors
from portal.bulkcheck.models import BulkCheckFile
from portal.core.csv_export import CsvFileReader
from portal.core.enqueue import enqueue
from portal.core.phone import normalize_phone
from portal.core.privacy import keyed_hash
from portal.recycling.checks import CheckClient
from portal.recycling.models import NumberCheckAudit

logger = logging.getLogger(__name__)

HEADER_NAMES = ({"number", "phone_number"}, {"date", "since"})  # an optional first row naming the two columns
BAD_ROWS_KEPT = 20  # on the row (line and reason code only), for the page and the status call
COLUMNS, BAD_NUMBER, BAD_DATE, FUTURE_DATE = "columns", "bad_number", "bad_date", "future_date"

REASON_TEXT = {
    selectors.REASSIGNED_AFTER: gettext_lazy("a carrier re-assigned the number after the date"),
    selectors.CANCELLED_AFTER: gettext_lazy("a carrier cancelled the number after the date"),
    selectors.UNASSIGNED_ON_DATE: gettext_lazy("the number was cancelled and held by nobody on the date"),
    selectors.NO_CHANGE: gettext_lazy("no cancellation or re-assignment reported after the date"),
    selectors.NOT_COVERED: gettext_lazy("no reporting carrier covers this number"),
    COLUMNS: gettext_lazy("a row must have two columns: number,date"),
    BAD_NUMBER: gettext_lazy("not a mainland mobile number (11 digits starting 13 to 19, or +86 and them)"),
    BAD_DATE: gettext_lazy("the date must be YYYY-MM-DD"),
    FUTURE_DATE: gettext_lazy("the date is in the future"),
}


def reason_text(code: str) -> str:
    return str(REASON_TEXT.get(code, code))


def _path(checked: BulkCheckFile, suffix: str) -> Path:
    return Path(settings.BULK_CHECK_FILE_DIR) / f"{checked.stored_name}.{suffix}"


def _refuse(message: str, code: str):
    raise ValidationError(message, code=code)


def _header_lines(first_line: bytes) -> int:
    """1 when the first line names the columns (number,date in either spelling), else 0."""
    cells = [c.strip().lower() for c in next(csv.reader([first_line.decode("utf-8", "replace").strip("\r\n")]), [])]
    if len(cells) == 2 and cells[0] in HEADER_NAMES[0] and cells[1] in HEADER_NAMES[1]:
        return 1
    if len(cells) == 2 and not any(ch.isdigit() for ch in "".join(cells)):
        _refuse(
            _(
                "The columns must be number,date (a header row naming them is optional). This file's first row has: "
                "%(found)s."
            )
            % {"found": ", ".join(cells)[:200]},
            "columns",
        )
    return 0


def _too_many_rows():
    limit = settings.BULK_CHECK_FILE_MAX_ROWS
    _refuse(
        _("The file has more than %(max)s rows. Split it into several files.") % {"max": f"{limit:,}"}, "too_many_rows"
    )


def _store(chunks, path: Path) -> tuple[int, int, bytes]:
    """Write the chunks to `path`, checking as they pass: at most BULK_CHECK_FILE_MAX_BYTES, text in UTF-8, at
    most BULK_CHECK_FILE_MAX_ROWS lines after a header. (bytes, lines, the first line); a ValidationError
    stops at once, having read no more."""
    decoder, size, newlines, first, last = codecs.getincrementaldecoder("utf-8")(), 0, 0, b"", b"\n"
    limit_rows, limit_bytes = settings.BULK_CHECK_FILE_MAX_ROWS, settings.BULK_CHECK_FILE_MAX_BYTES
    with open(path, "wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > limit_bytes:
                _refuse(
                    _("The file is larger than %(max)s. Split it into several files.")
                    % {"max": filesizeformat(limit_bytes)},
                    "too_big",
                )
            if b"\x00" in chunk:
                _refuse(
                    _("This is not a text file. Save the sheet as “CSV UTF-8 (comma delimited)” and upload that."),
                    "not_text",
                )
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                _refuse(
                    _(
                        "The file is not UTF-8 text (it may be GBK or a spreadsheet). Save it as “CSV UTF-8” and "
                        "upload it again."
                    ),
                    "not_utf8",
                )
            if len(first) < 4096 and b"\n" not in first:
                first += chunk[:4096]
            newlines += chunk.count(b"\n")
            if newlines > limit_rows + 1:  # a header line and the rows; the exact count once the header is known
                _too_many_rows()
            last = chunk[-1:] or last
            out.write(chunk)
    lines = newlines + (last != b"\n" and size > 0)
    return size, lines, first.split(b"\n", 1)[0]


def bulk_check_file_create(
    *, organisation, name: str, chunks, uploaded_by=None, client: CheckClient | None = None
) -> BulkCheckFile:
    """Keep a member's file of `number,date` rows outside the web root (streamed: checked for size, encoding,
    rows and columns as it is written) and check it in the background. Rows themselves are checked as they
    are read; bad ones are named in the result."""
    name = os.path.basename(name or "")[:255] or "upload.csv"
    if selectors.bulk_check_files_in_progress(organisation_id=organisation.pk) >= settings.BULK_CHECK_FILES_IN_PROGRESS:
        _refuse(
            _("%(n)d of your organisation's files are still being checked. Upload this one when one of them is done.")
            % {"n": settings.BULK_CHECK_FILES_IN_PROGRESS},
            "busy",
        )
    folder = Path(settings.BULK_CHECK_FILE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16)
    path = folder / f"{stored_name}.csv"
    try:
        size, lines, first_line = _store(chunks, path)
        if not size:
            _refuse(_("The file is empty."), "empty")
        bom = len(codecs.BOM_UTF8) if first_line.startswith(codecs.BOM_UTF8) else 0
        header = _header_lines(first_line[bom:])
        if lines - header < 1:
            _refuse(_("The file has no rows to check."), "empty")
        if lines - header > settings.BULK_CHECK_FILE_MAX_ROWS:
            _too_many_rows()
        now = timezone.now()
        with transaction.atomic():
            checked = BulkCheckFile.objects.create(
                created_at=now,
                progress_at=now,
                expires_at=now + timedelta(days=settings.BULK_CHECK_FILE_RETENTION_DAYS),
                organisation=organisation,
                uploaded_by=uploaded_by,
                original_name=name,
                stored_name=stored_name,
                via=BulkCheckFile.Via.API if client else BulkCheckFile.Via.CONSOLE,
                size_bytes=size,
                rows_total=lines - header,
                integration_id=client.integration_id if client else None,
                key_id=client.key_id if client else "",
                bytes_read=len(first_line) + 1 if header else bom,
                lines_read=header,
            )
            enqueue("portal.bulk_check_file_run", checked.pk)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return checked


def _check_rows(rows: list[tuple[int, list[str]]], today: date) -> tuple[list[list], list[tuple[str, date]]]:
    """The result rows (`[line, answer, reason, number as given, date as given]`, answers still to come for
    the valid ones) and the valid checks."""
    results, checks = [], []
    for line, cells in rows:
        if len(cells) != 2:
            results.append([line, "invalid", COLUMNS, cells[0][:32] if cells else "", ""])
            continue
        raw_phone, raw_date = cells[0][:32], cells[1][:32]
        result = [line, "invalid", "", raw_phone, raw_date]
        try:
            phone = normalize_phone(raw_phone)
        except ValidationError:
            result[2] = BAD_NUMBER
        else:
            try:
                since = date.fromisoformat(raw_date) if len(raw_date) == 10 else None
            except ValueError:
                since = None
            if since is None:
                result[2] = BAD_DATE
            elif since > today:
                result[2] = FUTURE_DATE
            else:
                result[1] = None
                checks.append((phone, since))
        results.append(result)
    return results, checks


def _csv_bytes(rows: list[list]) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return text.getvalue().encode("utf-8")


def _run_chunk(checked: BulkCheckFile, reader: CsvFileReader, today: date) -> None:
    """Check one chunk of rows and append their answers to the result, cut back first to what was committed
    (a worker killed after writing and before its commit leaves rows that are simply written again)."""
    rows = reader.rows(settings.BULK_CHECK_FILE_CHUNK_ROWS)
    results, checks = _check_rows(rows, today)
    answers = selectors.answers_for_checks(checks)
    pending = iter(answers)
    counts = {"yes": 0, "no": 0, "no_data": 0, "invalid": 0}
    for result in results:
        if result[1] is None:
            result[1], result[2] = next(pending)
        counts[result[1]] += 1
        if result[1] == "invalid" and len(checked.bad_rows) < BAD_ROWS_KEPT:
            checked.bad_rows.append([result[0], result[2]])
    text = _csv_bytes(results)
    with open(_path(checked, "result"), "a+b") as out:  # in append mode every write goes to the (cut) end
        out.truncate(checked.result_bytes)
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    checked.result_bytes += len(text)
    checked.rows_done = min(checked.rows_total, checked.rows_done + reader.lines - checked.lines_read)
    for answer, count in counts.items():
        setattr(checked, f"rows_{answer}", getattr(checked, f"rows_{answer}") + count)
    checked.bytes_read, checked.lines_read, checked.progress_at = reader.position, reader.lines, timezone.now()
    checked.state = BulkCheckFile.State.RUNNING
    if len(rows) < settings.BULK_CHECK_FILE_CHUNK_ROWS:
        checked.state, checked.finished_at, checked.rows_done = (
            BulkCheckFile.State.COMPLETED,
            timezone.now(),
            checked.rows_total,
        )
    checked.save()


def _fail(checked: BulkCheckFile, message: str) -> None:
    checked.state, checked.error, checked.finished_at = BulkCheckFile.State.FAILED, message, timezone.now()
    checked.save()


def bulk_check_file_process(*, file_id: int, seconds: float | None = None) -> bool:
    """Check a file a chunk at a time for about `seconds`; True if more is left. Each chunk's answers and
    counters commit together under the row's lock, so a second task for the same file leaves, and a killed
    worker's chunk is checked again from the committed position. Once done, its audit trail is written."""
    seconds = settings.BULK_CHECK_FILE_TASK_SECONDS if seconds is None else seconds
    started, reader, today = time.monotonic(), None, timezone.localdate()
    try:
        while True:
            with transaction.atomic():
                try:
                    checked = BulkCheckFile.objects.select_for_update(nowait=True).get(pk=file_id)
                except DatabaseError:
                    return False  # another task is checking this file right now
                if checked.is_done or checked.purged_at:
                    return False
                if reader is None or reader.position != checked.bytes_read:
                    if reader:
                        reader.close()
                    try:
                        reader = CsvFileReader(
                            _path(checked, "csv"), position=checked.bytes_read, first_line=checked.lines_read
                        )
                    except FileNotFoundError:
                        _fail(checked, _("The stored file is gone. Upload it again."))
                        return False
                if checked.result_bytes and not _path(checked, "result").exists():
                    _fail(checked, _("The stored result is gone. Upload the file again."))
                    return False
                _run_chunk(checked, reader, today)
            if checked.is_done:
                _path(checked, "csv").unlink(missing_ok=True)  # the answers are kept; the list of numbers is not
                if checked.state == BulkCheckFile.State.COMPLETED:
                    enqueue("portal.bulk_check_file_audit", file_id)
                return False
            if time.monotonic() - started >= seconds:
                return True
    finally:
        if reader:
            reader.close()


def bulk_check_files_sweep() -> int:
    """Re-queue files no worker has advanced for two minutes (a killed worker, a lost message), to be checked
    or to have their audit trail written."""
    late = timezone.now() - timedelta(minutes=2)
    waiting = BulkCheckFile.objects.filter(purged_at__isnull=True, progress_at__lt=late)
    stuck = list(
        waiting.filter(state__in=[BulkCheckFile.State.QUEUED, BulkCheckFile.State.RUNNING]).values_list("pk", flat=True)
    )
    for file_id in stuck:
        enqueue("portal.bulk_check_file_run", file_id, after_commit=False)
    unaudited = list(
        waiting.filter(state=BulkCheckFile.State.COMPLETED, audit_bytes__lt=F("result_bytes")).values_list(
            "pk", flat=True
        )
    )
    for file_id in unaudited:
        enqueue("portal.bulk_check_file_audit", file_id, after_commit=False)
    return len(stuck) + len(unaudited)


AUDIT_CHUNK_ROWS = 20_000


def bulk_check_file_audit_process(*, file_id: int, seconds: float | None = None) -> bool:
    """Write who checked which number (hashed) for a checked file, from its result, by COPY a chunk at a time
    for about `seconds`; True if more is left. Each chunk's rows commit with the position reached, so a killed
    worker's chunk is written again, never twice. Apart from the check, as the API's trail is buffered: at
    250,000 rows the audit rows cost more than the check itself (bench/bulk_file.py)."""
    seconds = settings.BULK_CHECK_FILE_TASK_SECONDS if seconds is None else seconds
    started = time.monotonic()
    while True:
        with transaction.atomic():
            try:
                checked = BulkCheckFile.objects.select_for_update(nowait=True).get(pk=file_id)
            except DatabaseError:
                return False  # another task is at it
            if checked.purged_at or checked.audit_bytes >= checked.result_bytes:
                return False
            reader = CsvFileReader(_path(checked, "result"), position=checked.audit_bytes)
            try:
                _audit_copy(checked, reader.rows(AUDIT_CHUNK_ROWS))
                checked.audit_bytes, checked.progress_at = reader.position, timezone.now()
            finally:
                reader.close()
            checked.save(update_fields=["audit_bytes", "progress_at"])
        if time.monotonic() - started >= seconds:
            return True


def _audit_copy(checked: BulkCheckFile, rows) -> int:
    """COPY the audit rows of checked rows (`[line, answer, reason, number, date]`; bad rows were not checked).
    Each row's id is the file's plus its line, so the trail of a row is kept once."""
    at, base = timezone.now().isoformat(), checked.public_id.int
    fixed = "\t".join(
        [
            at,
            NumberCheckAudit.Api.FILE,
            str(checked.organisation_id),
            str(checked.integration_id or "\\N"),
            checked.key_id or f"staff:{checked.uploaded_by_id}",
        ]
    )
    lines = [
        f"{uuid.UUID(int=(base + int(line)) % 2**128)}\t{fixed}\t{keyed_hash('phone', normalize_phone(phone))}"
        f"\t{since}\t{answer}\n"
        for _n, (line, answer, _reason, phone, since) in rows
        if answer != "invalid"
    ]
    if lines:
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                f"COPY {NumberCheckAudit._meta.db_table} (id, checked_at, api, organisation_id, integration_id,"
                " key_id, phone_hash, specified_date, answer) FROM STDIN"
            ) as copy,
        ):
            copy.write("".join(lines))
    return len(lines)


def bulk_check_files_purge() -> int:
    """Delete the file and the result of every check past its retention (7 days): the row keeps counts only."""
    purged = 0
    for checked in BulkCheckFile.objects.filter(expires_at__lte=timezone.now(), purged_at__isnull=True):
        for suffix in ("csv", "result"):
            _path(checked, suffix).unlink(missing_ok=True)
        if not checked.is_done:
            checked.state, checked.finished_at = BulkCheckFile.State.FAILED, timezone.now()
        checked.purged_at, checked.bad_rows = timezone.now(), []
        checked.save()
        purged += 1
    return purged


def bulk_check_result_rows(checked: BulkCheckFile):
    """The result as the member downloads it: a header, then each row of the file in order with its answer,
    reason code and the reason in the reader's language. Streamed from the stored result."""
    yield ["row", "phone_number", "date", "answer", "reason", "reason_text"]
    with open(_path(checked, "result"), encoding="utf-8", newline="") as stored:
        for line, answer, reason, phone, since in csv.reader(stored):
            yield [int(line), phone, since, answer, reason, reason_text(reason)]
