import csv
import sys

from django.core.management.base import BaseCommand

from portal.devtools.demo import demo_carrier_file_rows


class Command(BaseCommand):
    help = (
        "Write the demo carrier's monthly CSV file of number events (made-up numbers; a few rows deliberately wrong)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="where to write it (default: standard output)")
        parser.add_argument("--rows", type=int, default=2000)

    def handle(self, *args, path=None, rows=2000, **options):
        with open(path, "w", newline="", encoding="utf-8") if path else sys.stdout as out:
            csv.writer(out).writerows(demo_carrier_file_rows(rows=rows))
