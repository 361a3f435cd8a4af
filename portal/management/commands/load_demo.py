from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.devtools.complaints_demo import load_statistics_demo
from portal.devtools.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo members, apps and staff, and a year of statistics (idempotent: a second run changes nothing)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "load_demo only runs with DEBUG on (make run): demo members, staff with known "
                "passwords and made-up statistics have no place in production."
            )
        created = load_demo()
        self.stdout.write(
            "demo data: {organisations} organisations, {apps} apps, {staff} staff users created".format(**created)
        )
        created = load_statistics_demo()
        self.stdout.write(
            "demo statistics: {complaints} complaints, {lookups} lookups, {number_events} number events created".format(
                **created
            )
        )
