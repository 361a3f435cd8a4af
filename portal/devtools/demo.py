"""Demo data for `make run`: members, 16 apps across the categories, and one staff user per role.

Idempotent: rows are found by their natural keys and only created when missing.
"""

import base64
import hashlib
import random
from datetime import date, datetime, timedelta, timezone

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.db import transaction

from portal.notices.services import notice_subscription_save
from portal.recycling.models import NumberEvent
from registry import protocol, services
from registry.models import Integration, MemberApp, Organisation, StaffUser
from registry.validators import uscc_check_character

DEMO_PASSWORD = "demo-portal-2026"


SIMULATOR_URL = "http://127.0.0.1:8900"


Cat = MemberApp.Category


Kind = Organisation.Kind


ORGANISATIONS = [
    # (17 characters before the check character, kind, legal name, contact)
    ("91440300MA5DEM001", Kind.INTERNET_PLATFORM, "深圳市示例通讯科技有限公司", "王敏"),
    ("91330100MA2DEM002", Kind.INTERNET_PLATFORM, "杭州示例网络技术有限公司", "李娜"),
    ("91110108MA0DEM003", Kind.INTERNET_PLATFORM, "北京示例出行科技有限公司", "张伟"),
    ("91310000MA1DEM004", Kind.INTERNET_PLATFORM, "上海示例银行股份有限公司", "陈静"),
    ("91110000MA0DEM005", Kind.BASIC_CARRIER, "示例移动通信集团有限公司", "刘洋"),
    ("91110000MA0DEM006", Kind.MVNO, "示例转售通信有限公司", "赵磊"),
]


# The demo carrier issues China Mobile's segments; its app checks identities at the simulator, whose
# record says a number's holder has an ID ending in the number's last five digits and X.
CARRIER_SEGMENTS = {
    "91110000MA0DEM005": "134 135 136 137 138 139 147 150 151 152 157 158 159 172 178 182 183 184 187 188 195 197 198"
}


IDENTITY_CHECK_APPS = {"示例营业厅"}


APPS = [
    # (organisation index, name, category, unbind, notices)
    (0, "示例聊天", Cat.SOCIAL, True, True),
    (0, "示例邮箱", Cat.SOCIAL, True, True),
    (0, "示例支付", Cat.THIRD_PARTY_PAYMENT, True, True),
    (0, "示例网盘", Cat.CLOUD_STORAGE, True, False),
    (1, "示例商城", Cat.ECOMMERCE, True, True),
    (1, "示例钱包", Cat.THIRD_PARTY_PAYMENT, True, True),
    (1, "示例外卖", Cat.LIFE_SERVICES, False, True),
    (1, "示例短视频", Cat.SOCIAL, False, False),
    (2, "示例打车", Cat.LIFE_SERVICES, True, True),
    (2, "示例旅行", Cat.LIFE_SERVICES, False, True),
    (2, "示例单车", Cat.LIFE_SERVICES, False, False),
    (3, "示例手机银行", Cat.BANKING, True, True),
    (3, "示例证券", Cat.SECURITIES_FUNDS, True, False),
    (3, "示例基金", Cat.SECURITIES_FUNDS, False, False),
    (4, "示例营业厅", Cat.TELECOM, True, True),
    (5, "示例云服务", Cat.OTHER, False, False),
]


# Fixed TOTP seeds so a newcomer can sign in without a phone: `python manage.py demo_totp` prints codes.
STAFF = [
    ("admin@demo.portal", "演示管理员", StaffUser.Role.ADMINISTRATOR, None, "", "JBSWY3DPEHPK3PXPADMIN234"),
    ("platform@demo.portal", "演示平台员工", StaffUser.Role.PLATFORM_STAFF, 0, "", "JBSWY3DPEHPK3PXPPLATFORM"),
    ("carrier@demo.portal", "演示运营商员工", StaffUser.Role.CARRIER_STAFF, 4, "", "JBSWY3DPEHPK3PXPCARRIER2"),
    ("regulator@demo.portal", "演示监管人员", StaffUser.Role.REGULATOR, None, "44", "JBSWY3DPEHPK3PXPREGULATR"),
]


def demo_app_slug(index: int) -> str:
    return f"app{index + 1:02d}"


def demo_webhook_secret(slug: str) -> str:
    """The secret the demo's notices to app `slug` are signed with, so the simulator can verify them."""
    return "whsec_" + base64.b64encode(hashlib.sha256(f"demo-webhook-secret:{slug}".encode()).digest()).decode()


def demo_key_secret(slug: str) -> str:
    """Reproducible, so the platform simulator can verify the demo's signatures. Demo only."""
    return "whsec_" + base64.b64encode(hashlib.sha256(f"demo-signing-secret:{slug}".encode()).digest()).decode()


@transaction.atomic
def load_demo() -> dict:
    created = {"organisations": 0, "apps": 0, "staff": 0}
    organisations = []
    for prefix, kind, name, contact in ORGANISATIONS:
        org, made = Organisation.objects.get_or_create(
            credit_code=prefix + uscc_check_character(prefix),
            defaults={
                "kind": kind,
                "legal_name": name,
                "contact_name": contact,
                "contact_email": f"contact+{prefix[-2:]}@demo.portal",
                "status": Organisation.Status.APPLIED,
                "number_segments": CARRIER_SEGMENTS.get(prefix, ""),
            },
        )
        if made:
            created["organisations"] += 1
            services.organisation_record_creation(organisation=org, by=None)
            for status in (Organisation.Status.APPROVED, Organisation.Status.ACTIVE):
                org = services.organisation_set_status(organisation=org, status=status, by=None, reason="demo")
        organisations.append(org)

    for index, (org_index, name, category, unbind, notices) in enumerate(APPS):
        slug = demo_app_slug(index)
        app, made = MemberApp.objects.get_or_create(
            organisation=organisations[org_index],
            name=name,
            defaults={
                "category": category,
                "supports_lookup": True,
                "supports_unbind": unbind,
                "supports_recycling_notices": notices,
                "supports_identity_check": name in IDENTITY_CHECK_APPS,
                "go_live_date": date(2026, 1, 1),
                "unbind_instructions": f"打开「{name}」→ 我的 → 设置 → 账号与安全 → 解绑手机号。"
                f"客服热线 95000-{index + 1:02d}。",
                "unbind_url": f"https://example.com/{slug}/unbind",
            },
        )
        created["apps"] += made
        integration, made = Integration.objects.get_or_create(
            app=app, defaults={"base_url": f"{SIMULATOR_URL}/{slug}", "timeout_ms": 3000, "max_requests_per_second": 50}
        )
        if made:
            services.integration_key_issue(
                integration=integration, by=None, key_id=f"demo_{slug}", secret=demo_key_secret(slug)
            )
        if notices and not hasattr(app, "notice_subscription"):
            # so a carrier's events reach the simulated apps after `make run`
            notice_subscription_save(
                app=app,
                webhook_url=f"{SIMULATOR_URL}/{slug}{protocol.NUMBER_NOTICES_PATH}",
                event_types=NumberEvent.Type.values,
                secret=demo_webhook_secret(slug),
            )

    for email, full_name, role, org_index, province, totp_seed in STAFF:
        user = StaffUser.objects.filter(email=email).first()
        if user is None:
            user = StaffUser(
                email=email,
                full_name=full_name,
                role=role,
                organisation=organisations[org_index] if org_index is not None else None,
                province=province,
                is_superuser=role == StaffUser.Role.ADMINISTRATOR,
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
            created["staff"] += 1
        if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            TOTP.activate(user, totp_seed)
    return created


def demo_totp_seeds() -> dict[str, str]:
    return {email: seed for email, _n, _r, _o, _p, seed in STAFF}


DEMO_CARRIER_FILE_NAME = "demo-carrier-number-events.csv"


def demo_carrier_file_rows(*, rows: int = 2000, segments: str = CARRIER_SEGMENTS["91110000MA0DEM005"]):
    """A made-up monthly carrier file for the demo (the portal's own invention, no real numbers):
    numbers in the carrier's segments cancelled 150 to 300 days ago and most re-assigned 90 to 120 days
    later (a few after only 60: freeze-period breaches), some ported, and one row in a hundred
    deliberately wrong so the rejected-rows list has something to show. The same event ids every
    time, so uploading it twice shows that nothing is stored twice."""
    rng = random.Random(2026)
    prefixes = segments.split()
    china = timezone(timedelta(hours=8))
    today = datetime.now(china).replace(hour=9, minute=0, second=0, microsecond=0)
    mistakes = [
        lambda r: [r[0], r[1][:7], *r[2:]],  # a number cut short
        lambda r: [r[0], r[1], "sold", r[3]],  # an unknown type
        lambda r: [r[0], r[1], r[2], r[3][:10].replace("-", "/")],  # a date without time or offset
        lambda r: r[:3],  # a column missing
    ]
    yield ["event_id", "phone_number", "type", "occurred_at"]
    made = 0
    while made < rows:
        number = f"{rng.choice(prefixes)}{rng.randrange(10**8):08d}"
        cancelled = today - timedelta(days=rng.randrange(150, 300), minutes=rng.randrange(600))
        events = [("cancelled", cancelled)]
        roll = rng.random()
        if roll < 0.75:
            events.append(("reassigned", cancelled + timedelta(days=60 if roll < 0.03 else rng.randrange(90, 120))))
        elif roll < 0.85:
            events = [("ported_out", cancelled)]
        for kind, at in events:
            made += 1
            row = [f"DEMO-{made:07d}", number, kind, at.isoformat()]
            yield mistakes[made // 100 % len(mistakes)](row) if made % 100 == 37 else row
