import uvicorn
from django.core.management.base import BaseCommand

from portal.devtools.carrier_app import CarrierApp, CarrierAppConfig
from portal.devtools.simulator import AppBehaviour, Simulator, SimulatorConfig


class Command(BaseCommand):
    help = "Run the platform simulator: member apps app01..appNN speaking protocol v2 on one port."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--apps", type=int, default=16)
        parser.add_argument("--latency-ms", type=int, default=0, help="every app answers after this delay")
        parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 503")
        parser.add_argument("--slow", action="append", default=[], metavar="APP=MS", help="one app's own latency")
        parser.add_argument("--hang", action="append", default=[], metavar="APP", help="an app that never answers")
        parser.add_argument(
            "--failing", action="append", default=[], metavar="APP", help="an app that always answers 503"
        )
        parser.add_argument(
            "--huge", action="append", default=[], metavar="APP", help="an app whose answers are far too big"
        )
        parser.add_argument(
            "--forged", action="append", default=[], metavar="APP", help="an app signing with the wrong secret"
        )
        parser.add_argument("--key-id-format", default="demo_{slug}", help="the key id each app signs with")
        parser.add_argument(
            "--unbind-refuse", action="append", default=[], metavar="APP", help="an app that refuses to unbind"
        )
        parser.add_argument(
            "--unbind-later",
            action="append",
            default=[],
            metavar="APP[=SECONDS]",
            help="an app that accepts unbinding for later (202) and answers after SECONDS (needs --portal-url)",
        )
        parser.add_argument(
            "--webhook-down", action="append", default=[], metavar="APP", help="an app whose notice webhook answers 503"
        )
        parser.add_argument("--report-back", action="store_true", help="apps report bindings removed for each notice")
        parser.add_argument(
            "--portal-url",
            default="http://127.0.0.1:8000",
            help="where apps send later unbind answers and notice reports",
        )
        parser.add_argument(
            "--carrier-app",
            default="",
            metavar="APP",
            help="this app also plays a carrier's app using the carrier API (needs --portal-url)",
        )
        parser.add_argument(
            "--carrier-every", type=float, default=120.0, help="seconds between the carrier app's subscribers"
        )
        parser.add_argument(
            "--garbage", action="append", default=[], metavar="APP", help="an app whose answers break the protocol"
        )

    def handle(
        self,
        *args,
        port,
        host,
        apps,
        latency_ms,
        error_rate,
        slow,
        hang,
        failing,
        garbage,
        huge,
        forged,
        key_id_format,
        unbind_refuse,
        unbind_later,
        webhook_down,
        report_back,
        portal_url,
        carrier_app,
        carrier_every,
        **options,
    ):
        default = AppBehaviour(latency_ms=latency_ms, error_rate=error_rate)
        config = SimulatorConfig(
            apps=apps,
            default=default,
            key_id_format=key_id_format,
            portal_url=portal_url,
            unbind_refuse=set(unbind_refuse),
            report_back=report_back,
        )
        for item in unbind_later:
            slug, _, seconds = item.partition("=")
            config.unbind_later[slug] = float(seconds) if seconds else None
        for item in slow:
            slug, _, ms = item.partition("=")
            config.per_app[slug] = AppBehaviour(latency_ms=int(ms), error_rate=error_rate)
        for slug in hang:
            config.per_app[slug] = AppBehaviour(hang=True)
        for slug in failing:
            config.per_app[slug] = AppBehaviour(latency_ms=latency_ms, error_rate=1.0)
        for slug in forged:
            config.per_app[slug] = AppBehaviour(latency_ms=latency_ms, forged=True)
        for slug in huge:
            config.per_app[slug] = AppBehaviour(latency_ms=latency_ms, huge=True)
        for slug in garbage:
            config.per_app[slug] = AppBehaviour(latency_ms=latency_ms, garbage=True)
        for slug in webhook_down:
            config.per_app.setdefault(
                slug, AppBehaviour(latency_ms=latency_ms, error_rate=error_rate)
            ).webhook_down = True
        if carrier_app:
            config.carrier = CarrierApp(
                CarrierAppConfig(
                    slug=carrier_app,
                    portal_url=portal_url,
                    self_url=f"http://{host}:{port}",
                    key_id=key_id_format.format(slug=carrier_app),
                    every=carrier_every,
                )
            )
        self.stdout.write(f"platform simulator: {apps} apps on http://{host}:{port}/app01 .. /app{apps:02d}")
        uvicorn.run(
            Simulator(config),
            host=host,
            port=port,
            log_level="warning",
            lifespan="on" if carrier_app else "off",
            timeout_graceful_shutdown=1,
            loop="uvloop",
            http="httptools",
            access_log=False,
            backlog=4096,
        )
