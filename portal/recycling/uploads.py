import codecs
import csv
import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.core.csv_export import CsvFileReader
from portal.core.enqueue import enqueue
from portal.recycling.models import NumberEventUpload, NumberEventUploadRejection
from portal.recycling.services import NUMBER_EVENT_FIELDS, number_events_ingest

UPLOAD_SNIFF_BYTES = 64 * 1024


def _upload_columns(head: bytes, *, complete: bool) -> tuple[list[str], int, int]:
    """From the file's first bytes: the column order, where the data start (after a BOM and a header)
    and the lines skipped. A clear ValidationError for a file that is no CSV of number events."""
    if b"\x00" in head:
        raise ValidationError(
            _("This is not a text file. Save the sheet as “CSV UTF-8 (comma delimited)” and upload that."),
            code="not_text",
        )
    bom = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    first, newline, _rest = head[bom:].partition(b"\n")
    if not newline and not complete:
        raise ValidationError(_("The first line is too long for a file of number events."), code="columns")
    try:  # up to the last whole line read (a cut may split a character)
        head[bom:].decode("utf-8") if complete else head[bom : head.rfind(b"\n") + 1].decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(
            _(
                "The file is not UTF-8 text (it may be GBK or a spreadsheet). Save it as “CSV UTF-8” and upload it "
                "again."
            ),
            code="not_utf8",
        ) from None
    cells = next(csv.reader([first.decode("utf-8").strip("\r")]), [])
    names = [c.strip().lower() for c in cells]
    expected = list(NUMBER_EVENT_FIELDS)
    if sorted(names) == sorted(expected):
        return names, bom + len(first) + len(newline), 1
    looks_like_header = any(n in expected for n in names) or not any(ch.isdigit() for ch in "".join(names))
    if looks_like_header or len(cells) != len(expected):
        raise ValidationError(
            _(
                "The columns must be %(expected)s (a header row naming them is optional). This file's first row has: "
                "%(found)s."
            )
            % {"expected": ", ".join(expected), "found": ", ".join(c.strip() for c in cells)[:200] or _("nothing")},
            code="columns",
        )
    return expected, bom, 0


def number_event_upload_create(*, carrier, uploaded_by, file) -> NumberEventUpload:
    """Check a carrier's CSV file (name, size, encoding, columns), keep it outside the web root and read
    it in the background. The rows themselves are checked as they are read; bad ones are listed."""

    if not carrier.is_carrier:
        raise ValidationError(_("Only carriers and MVNOs report number events."), code="not_carrier")
    name = os.path.basename(file.name or "")[:255]
    if not name.lower().endswith(".csv"):
        raise ValidationError(_("Choose a CSV file (a name ending in .csv)."), code="not_csv")
    if file.size > settings.NUMBER_EVENT_UPLOAD_MAX_BYTES:
        raise ValidationError(
            _("The file is %(size)s; at most %(max)s can be uploaded at once. Split it into several files.")
            % {"size": filesizeformat(file.size), "max": filesizeformat(settings.NUMBER_EVENT_UPLOAD_MAX_BYTES)},
            code="too_big",
        )
    if not file.size:
        raise ValidationError(_("The file is empty."), code="empty")
    file.seek(0)
    head = file.read(UPLOAD_SNIFF_BYTES)
    columns, data_start, header_lines = _upload_columns(head, complete=file.size <= UPLOAD_SNIFF_BYTES)
    folder = Path(settings.NUMBER_EVENT_UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{secrets.token_hex(16)}.csv"
    path = folder / stored_name
    file.seek(0)
    with open(path, "wb") as out:
        for chunk in file.chunks():
            out.write(chunk)
    try:
        with transaction.atomic():
            upload = NumberEventUpload.objects.create(
                carrier=carrier,
                uploaded_by=uploaded_by,
                original_name=name,
                stored_name=stored_name,
                size_bytes=file.size,
                columns=columns,
                bytes_read=data_start,
                lines_read=header_lines,
            )
            enqueue("portal.tasks.number_event_upload_run", upload.pk)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return upload


def _upload_path(upload) -> Path:
    return Path(settings.NUMBER_EVENT_UPLOAD_DIR) / upload.stored_name


class _UploadReader(CsvFileReader):
    """The rows of an upload from where the last committed chunk ended."""

    def __init__(self, upload):
        super().__init__(_upload_path(upload), position=upload.bytes_read, first_line=upload.lines_read)


def number_event_upload_process(*, upload_id: int, seconds: float | None = None) -> bool:
    """Read an upload a chunk (one API batch) at a time for about `seconds`; True if more is left.
    Each chunk's events, rejected rows and counters commit together under the upload's row lock, so a
    second task for the same file waits or leaves, and a killed worker's chunk is simply read again."""
    seconds = settings.NUMBER_EVENT_UPLOAD_TASK_SECONDS if seconds is None else seconds
    started, reader = time.monotonic(), None
    try:
        while True:
            with transaction.atomic():
                try:
                    upload = (
                        NumberEventUpload.objects.select_for_update(nowait=True, of=("self",))
                        .select_related("carrier")
                        .get(pk=upload_id)
                    )
                except DatabaseError:
                    return False  # another task is reading this file right now
                if upload.is_done:
                    return False
                if reader is None or reader.position != upload.bytes_read:
                    if reader:
                        reader.close()
                    try:
                        reader = _UploadReader(upload)
                    except FileNotFoundError:
                        upload.state, upload.error, upload.finished_at = (
                            NumberEventUpload.State.FAILED,
                            _("The stored file is gone."),
                            timezone.now(),
                        )
                        upload.save()
                        return False
                rows = reader.rows(settings.NUMBER_EVENT_UPLOAD_CHUNK_ROWS)
                events, event_rows, rejections = [], [], []
                for line, cells in rows:
                    if len(cells) != len(upload.columns):
                        rejections.append(
                            NumberEventUploadRejection(
                                upload=upload, line=line, code="columns", detail=str(len(cells)), row=cells[:10]
                            )
                        )
                    else:
                        events.append(dict(zip(upload.columns, cells)))
                        event_rows.append((line, cells))
                result = number_events_ingest(carrier=upload.carrier, events=events)
                for refused in result["rejected"]:
                    line, cells = event_rows[refused["index"]]
                    rejections.append(
                        NumberEventUploadRejection(
                            upload=upload, line=line, code=refused["code"], detail=refused["detail"], row=cells
                        )
                    )
                NumberEventUploadRejection.objects.bulk_create(rejections, ignore_conflicts=True)
                upload.rows_read += len(rows)
                upload.rows_accepted += result["accepted"]
                upload.rows_duplicate += result["duplicates"]
                upload.rows_rejected += len(rejections)
                upload.freeze_breaches += result["freeze_breaches"]
                upload.bytes_read, upload.lines_read = reader.position, reader.lines
                upload.progress_at = timezone.now()
                upload.state = NumberEventUpload.State.RUNNING
                if len(rows) < settings.NUMBER_EVENT_UPLOAD_CHUNK_ROWS:
                    upload.state, upload.finished_at = NumberEventUpload.State.COMPLETED, timezone.now()
                upload.save()
            if upload.state == NumberEventUpload.State.COMPLETED:
                _upload_path(upload).unlink(missing_ok=True)  # the events are stored; the file held phone numbers
                return False
            if time.monotonic() - started >= seconds:
                return True
    finally:
        if reader:
            reader.close()


def number_event_uploads_sweep() -> int:
    """Re-queue uploads no worker has advanced for two minutes (a killed worker, a lost message), and
    clear the values of rejected rows after the retention period (their line and reason stay)."""

    stuck = list(
        NumberEventUpload.objects.filter(
            state__in=[NumberEventUpload.State.QUEUED, NumberEventUpload.State.RUNNING],
            progress_at__lt=timezone.now() - timedelta(minutes=2),
        ).values_list("pk", flat=True)
    )
    for upload_id in stuck:
        enqueue("portal.tasks.number_event_upload_run", upload_id, after_commit=False)
    cutoff = timezone.now() - timedelta(days=settings.NUMBER_EVENT_UPLOAD_RETENTION_DAYS)
    NumberEventUploadRejection.objects.filter(upload__created_at__lt=cutoff).exclude(row=[]).update(row=[])
    return len(stuck)
