"""The index Django reads for the portal app's models; each model lives in its domain's package
(app_label "portal", tables unchanged)."""

from portal.bulkcheck.models import BulkCheckFile  # noqa: F401
from portal.carrier.models import CarrierAction  # noqa: F401
from portal.health.models import WorkerHeartbeat  # noqa: F401
from portal.lookup.models import Lookup, LookupQuery  # noqa: F401
from portal.notices.models import NoticeAttempt, NoticeDelivery, NoticeSubscription  # noqa: F401
from portal.recycling.models import (  # noqa: F401
    NumberCheckAudit,
    NumberEvent,
    NumberEventUpload,
    NumberEventUploadRejection,
)
from portal.sms.models import SmsMessage  # noqa: F401
from portal.unbinding.models import UnbindRequest  # noqa: F401
from portal.verification.models import VerificationCode  # noqa: F401
