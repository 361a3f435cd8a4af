from django.core.management.base import BaseCommand

from complaints.statistics.services import statistics_refresh


class Command(BaseCommand):
    help = "Rebuild the statistics rollups: recent and changed days, or every day with --full."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="rebuild every day (after a bulk load or a fix)")

    def handle(self, *args, full=False, **options):
        self.stdout.write(f"statistics refreshed: {statistics_refresh(full=full)}")
