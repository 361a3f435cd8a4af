from django.core.management.base import BaseCommand
from django.utils import timezone

from portal.sms import selectors


class Command(BaseCommand):
    help = "Print the latest SMS messages (with the development outbox: their texts, e.g. the demo's codes)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=10)

    def handle(self, *args, limit, **options):
        show_text = selectors.sms_outbox_shows_text()
        messages = list(selectors.sms_outbox(limit=limit))
        if not messages:
            self.stdout.write("No SMS yet.")
        for m in messages:
            text = m.text if show_text else "(text hidden: not the development outbox)"
            self.stdout.write(
                f"{timezone.localtime(m.created_at):%Y-%m-%d %H:%M:%S}  {m.masked_phone_number}  {m.status:7}  {text}"
            )
