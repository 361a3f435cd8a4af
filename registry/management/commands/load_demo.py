from django.core.management.base import BaseCommand

from registry.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo members, apps and staff (idempotent: a second run changes nothing)."

    def handle(self, *args, **options):
        created = load_demo()
        self.stdout.write(
            "demo data: {organisations} organisations, {apps} apps, {staff} staff users created".format(**created)
        )
