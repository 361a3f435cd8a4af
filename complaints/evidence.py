"""Evidence a holder attaches to a complaint: checked by its content (not its name), stored outside the web root."""

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image

from complaints.models import Complaint, Evidence


def evidence_content_type(upload) -> str:
    """The real type of an uploaded file, read from its content (never its name): image/jpeg, image/png or
    application/pdf; anything else is refused with a message naming the file."""
    name = upload.name
    if upload.size > settings.COMPLAINT_EVIDENCE_MAX_BYTES:
        raise ValidationError(
            _("“%(name)s” is larger than %(mb)d MB.")
            % {"name": name, "mb": settings.COMPLAINT_EVIDENCE_MAX_BYTES // 2**20},
            code="evidence_too_big",
        )
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if head.startswith(b"%PDF-"):
        upload.seek(max(0, upload.size - 1024))
        tail = upload.read()
        upload.seek(0)
        if b"%%EOF" in tail:
            return "application/pdf"
    elif head.startswith(b"\xff\xd8\xff") or head.startswith(b"\x89PNG\r\n\x1a\n"):
        try:
            with Image.open(upload) as image:
                image.verify()  # decodes the structure: a renamed or truncated file fails here
                kind = image.format
        except Exception:
            kind = None
        upload.seek(0)
        if kind in ("JPEG", "PNG"):
            return "image/jpeg" if kind == "JPEG" else "image/png"
    raise ValidationError(
        _(
            "“%(name)s” is not a JPEG or PNG picture or a PDF document (we checked its content, not its name). "
            "Attach a photo, a screenshot or a PDF."
        )
        % {"name": name},
        code="evidence_type",
    )


def evidence_check(files: list) -> list[str]:
    if len(files) > settings.COMPLAINT_EVIDENCE_FILES:
        raise ValidationError(
            _("Attach at most %(count)d files.") % {"count": settings.COMPLAINT_EVIDENCE_FILES}, code="evidence_count"
        )
    return [evidence_content_type(upload) for upload in files]


def evidence_store(complaint: Complaint, files: list, content_types: list[str]) -> None:
    for upload, content_type in zip(files, content_types):
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
        evidence = Evidence(
            complaint=complaint,
            content_type=content_type,
            size=upload.size,
            original_name=(upload.name or "file")[-200:],
            sha256=digest.hexdigest(),
        )
        evidence.file.save(upload.name or "file", upload, save=False)
        evidence.save()
