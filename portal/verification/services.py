import hmac
import logging
import re
import secrets
from datetime import timedelta

from captcha.models import CaptchaStore
from captcha.validators import captcha_validate
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError as CaptchaWrong

from portal.core.phone import normalize_phone
from portal.core.privacy import keyed_hash
from portal.core.refusals import Refusal, local_time
from portal.sms.models import SmsMessage
from portal.sms.services import sms_send
from portal.verification.models import VerificationCode

logger = logging.getLogger(__name__)


def captcha_challenge_new() -> str:
    """A new picture check (django-simple-captcha's store, as on the pages): its key."""
    return CaptchaStore.pick()


def captcha_required() -> Refusal:
    return Refusal(
        _(
            "Solve a picture check first: fetch one (POST /api/v1/captcha) and send its captcha_key "
            "and the characters in its picture as captcha_answer."
        ),
        code="captcha_required",
    )


def captcha_challenge_pass(*, key: str, answer: str) -> None:
    """The picture check before an SMS code, for API clients. A key is tried once, right or wrong."""
    if not (key or "").strip() or not (answer or "").strip():
        raise captcha_required()
    try:
        captcha_validate(key.strip(), answer.strip())
    except CaptchaWrong:
        raise Refusal(
            _(
                "The characters do not match the picture, or the picture has expired. Fetch a new picture "
                "and try again."
            ),
            code="captcha_invalid",
        ) from None


def _sms_budget_key(now) -> str:
    return "sms-code-budget:" + now.strftime("%Y%m%d%H")  # now is UTC


def _sms_budget_refuse(now) -> None:
    """The site's hourly budget is spent: say so (it concerns every number alike) and raise the alarm,
    once an hour; the log holds no number."""
    retry_at = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if cache.add(_sms_budget_key(now) + ":alarm", 1, timeout=3600):
        logger.critical(
            "SMS budget spent: %d verification codes this hour (SMS_CODES_PER_HOUR); new codes are refused until %s",
            settings.SMS_CODES_PER_HOUR,
            retry_at.isoformat(),
        )
    raise Refusal(
        _("We have sent as many SMS codes as we can this hour. Please try again after %(time)s.")
        % {"time": local_time(retry_at)},
        code="sms_budget_spent",
        retry_at=retry_at,
    )


def _sms_budget_spend(now) -> None:
    """Count one code against the hour's budget (in Redis, shared by every web process)."""
    key = _sms_budget_key(now)
    cache.add(key, 0, timeout=2 * 3600)
    if cache.incr(key) > settings.SMS_CODES_PER_HOUR:
        _sms_budget_refuse(now)


def _number_withholds(*, phone_hash: str, client_hash: str, purpose: str, now) -> str:
    """Why a code to this number is not sent now ("" if it is): a code a minute (per flow, so going from
    one flow to another gets its code) and a daily share per number and client, so a stranger spends
    only their own share of the holder's codes; and a higher daily ceiling per number."""
    day_ago = now - timedelta(days=1)
    to_number = VerificationCode.objects.filter(phone_hash=phone_hash, created_at__gte=day_ago).exclude(code_hash="")
    from_client = to_number.filter(client_hash=client_hash)
    last = from_client.filter(purpose=purpose).order_by("-created_at").first()
    if last and (now - last.created_at).total_seconds() < settings.LOOKUP_CODE_RESEND_SECONDS:
        return "a code a minute"
    if from_client.count() >= settings.LOOKUP_CODES_PER_NUMBER_AND_CLIENT_PER_DAY:
        return "daily cap per number and client"
    if to_number.count() >= settings.LOOKUP_CODES_PER_NUMBER_PER_DAY:
        return "daily cap per number"
    return ""


# Sent before a code is spent on a purpose: a receiver refuses by raising (the lookup's admission control,
# portal/lookup/admission.py, connected in portal/apps.py: the lookup sits above verification).
code_requested = Signal()


def verification_code_send(*, phone_number: str, client_ip: str, purpose: str = "lookup") -> VerificationCode | None:
    """Send a 6-digit code by SMS, within the limits. Limits that concern the client (its daily cap, the
    site's hourly SMS budget) refuse with a Refusal. Limits that concern the number withhold the code
    silently (None): the caller gives every number the same answer ("if this number can receive a code,
    one was sent"), so nobody learns anything about a number before proving it with a code. The lookup
    a day per number is told after the code (lookup_start)."""
    phone_number = normalize_phone(phone_number)
    phone_hash = keyed_hash("phone", phone_number)
    client_hash = keyed_hash("client", client_ip or "unknown")
    now = timezone.now()
    code_requested.send(sender=VerificationCode, purpose=purpose)  # a receiver may refuse (lookup admission)
    # The client's own limits first, so that what they answer never depends on the number.
    if (cache.get(_sms_budget_key(now)) or 0) >= settings.SMS_CODES_PER_HOUR:
        _sms_budget_refuse(now)
    recent = VerificationCode.objects.filter(client_hash=client_hash, created_at__gte=now - timedelta(days=1))
    if recent.count() >= settings.LOOKUP_CODES_PER_CLIENT_PER_DAY:
        retry_at = recent.order_by("created_at").first().created_at + timedelta(days=1)
        raise Refusal(
            _("Too many codes were asked for from your network today. You can ask again after %(time)s.")
            % {"time": local_time(retry_at)},
            code="daily_cap",
            retry_at=retry_at,
        )
    withheld = _number_withholds(phone_hash=phone_hash, client_hash=client_hash, purpose=purpose, now=now)
    if withheld:
        # Kept as a spent row without a code: the request counts against the client's own cap just as one
        # that sent a code, so that cap cannot tell the client which numbers were withheld.
        VerificationCode.objects.create(
            phone_hash=phone_hash,
            client_hash=client_hash,
            code_hash="",
            purpose=purpose,
            created_at=now,
            expires_at=now,
            used_at=now,
        )
        logger.info("verification code withheld (%s)", withheld)
        return None
    _sms_budget_spend(now)
    code = f"{secrets.randbelow(10**6):06d}"
    verification = VerificationCode.objects.create(
        phone_hash=phone_hash,
        client_hash=client_hash,
        code_hash=keyed_hash("code", f"{phone_hash}:{code}"),
        purpose=purpose,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.LOOKUP_CODE_TTL_SECONDS),
    )
    minutes = settings.LOOKUP_CODE_TTL_SECONDS // 60
    sms_send(
        phone_number=phone_number,
        text=f"【码号服务】验证码 {code}，{minutes} 分钟内有效。请勿告诉他人。/ Code {code}, valid {minutes} min.",
        purpose=SmsMessage.Purpose.VERIFICATION_CODE,
    )
    return verification


def _code_not_accepted() -> Refusal:
    # One answer for every way a code can fail (none sent, expired, dead, wrong): before the code is
    # proven, nothing may tell whether or when a code was sent to the number, or who else tried.
    return Refusal(
        _(
            "This code is not right or no longer works. Check it, or ask for a new code: a code works for "
            "%(minutes)d minutes and %(tries)d tries."
        )
        % {"minutes": settings.LOOKUP_CODE_TTL_SECONDS // 60, "tries": settings.LOOKUP_CODE_MAX_WRONG},
        code="code_not_accepted",
    )


def verification_code_check(*, phone_number: str, code: str, purpose: str = "lookup") -> None:
    """Accept the latest code for the number once; wrong tries are counted and a code dies after five.
    The count is committed before the refusal is raised, so a caller's rollback cannot undo it."""
    phone_hash = keyed_hash("phone", normalize_phone(phone_number))
    accepted = False
    with transaction.atomic():
        verification = (
            VerificationCode.objects.select_for_update()
            .filter(phone_hash=phone_hash, purpose=purpose, used_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        if verification is None or verification.wrong_tries >= settings.LOOKUP_CODE_MAX_WRONG:
            pass
        elif not hmac.compare_digest(
            verification.code_hash, keyed_hash("code", f"{phone_hash}:{(code or '').strip()}")
        ):
            verification.wrong_tries += 1
            verification.save(update_fields=["wrong_tries"])
        elif timezone.now() <= verification.expires_at:
            verification.used_at = timezone.now()
            verification.save(update_fields=["used_at"])
            accepted = True
    if not accepted:
        raise _code_not_accepted()


def holder_verify(*, phone_number: str, code: str, purpose: str) -> str:
    """Check an SMS code that proves the number (for pages after the lookup); returns the number's
    keyed hash, which is all the session keeps."""
    verification_code_check(phone_number=phone_number, code=code, purpose=purpose)
    return keyed_hash("phone", normalize_phone(phone_number))


ID_LAST6 = re.compile(r"\d{5}[\dX]")


def normalize_id_last6(raw: str) -> str:
    value = (raw or "").strip().upper()
    if not ID_LAST6.fullmatch(value):
        raise ValidationError(
            _("Enter the last 6 characters of your ID card: five digits, then a digit or X."), code="invalid_id_last6"
        )
    return value
