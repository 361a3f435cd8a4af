"""What every page may state about the portal's rules, read from the settings (so the text follows them)."""

from django.conf import settings


def rules(request) -> dict:
    return {
        "rules": {
            "code_minutes": settings.LOOKUP_CODE_TTL_SECONDS // 60,
            "lookup_hours": settings.LOOKUP_ONE_PER_NUMBER_HOURS,
            "retention_days": settings.LOOKUP_RETENTION_DAYS,
            "unbind_days": settings.UNBIND_WORKING_DAYS,
            "answer_days": settings.COMPLAINT_ANSWER_DAYS,
            "final_days": settings.COMPLAINT_FINAL_DAYS,
            "feedback_days": settings.COMPLAINT_FEEDBACK_DAYS,
            "duplicate_days": settings.COMPLAINT_DUPLICATE_DAYS,
        }
    }
