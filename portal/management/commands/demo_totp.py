import time

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.devtools.demo import demo_totp_seeds


class Command(BaseCommand):
    help = "Print the current TOTP code of each demo staff user (development only)."

    def add_arguments(self, parser):
        parser.add_argument("email", nargs="?", help="only this demo user")

    def handle(self, *args, email=None, **options):
        if not settings.DEBUG:
            raise CommandError("demo_totp only runs with DEBUG on: demo users have no place in production.")
        seeds = demo_totp_seeds()
        if email and email not in seeds:
            raise CommandError(f"{email} is not a demo user; demo users: {', '.join(seeds)}")
        counter = int(time.time()) // 30
        left = 30 - int(time.time()) % 30
        for address, seed in seeds.items():
            if email in (None, address):
                self.stdout.write(f"{address:24} {format_hotp_value(hotp_value(seed, counter))}  (valid {left}s more)")
