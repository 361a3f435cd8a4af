"""The statistics API for regulators (staff session with TOTP, like the staff pages): the dashboard's
figures as JSON. Filters are GET parameters, the same as the pages'; they go through
`statistics_filters_for_user`, so a provincial regulator gets their province only and other staff get 404."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from complaints.models import Complaint
from complaints.statistics.filters import INTERVALS, LENSES, statistics_filters_for_user, statistics_reader
from complaints.statistics.forms import StatisticsFilterForm
from complaints.statistics.headline import statistics_headline
from complaints.statistics.rankings import (
    statistics_by_carrier,
    statistics_by_category,
    statistics_by_platform,
    statistics_by_province,
)
from complaints.statistics.trends import statistics_trend


class IsStatisticsReader(BasePermission):
    """Regulators and administrators; other signed-in staff get 404 as on the pages."""

    def has_permission(self, request, view):
        if request.user.is_authenticated and not statistics_reader(request.user):
            raise NotFound
        return statistics_reader(request.user)


class StatisticsFigureSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    value = serializers.FloatField(allow_null=True, help_text="null: not available (yet, or not by province)")
    previous = serializers.FloatField(allow_null=True, help_text="the same figure for the period just before")
    change = serializers.CharField(help_text="+12% for counts, +1.5 pp for shares; empty when not comparable")
    unit = serializers.CharField()
    available = serializers.BooleanField()


class StatisticsPeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    province = serializers.CharField(help_text="GB/T 2260 code; empty: the whole country")


class HeadlineSerializer(serializers.Serializer):
    period = StatisticsPeriodSerializer()
    figures = StatisticsFigureSerializer(many=True)


class SeriesSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    values = serializers.ListField(child=serializers.IntegerField(), help_text="complaints received, one per bucket")


class TrendSerializer(serializers.Serializer):
    period = StatisticsPeriodSerializer()
    interval = serializers.CharField()
    lens = serializers.CharField()
    buckets = serializers.ListField(child=serializers.DateField(), help_text="the first day of each bucket")
    series = SeriesSerializer(many=True)


class RankingRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    complaints = serializers.IntegerField()
    previous = serializers.IntegerField(help_text="complaints in the period just before")
    change = serializers.CharField()
    answered = serializers.IntegerField()
    on_time_share = serializers.FloatField(allow_null=True)
    satisfied_share = serializers.FloatField(allow_null=True)
    escalated = serializers.IntegerField()
    size = serializers.IntegerField(
        required=False, help_text="lookups that asked the platform / numbers the carrier re-assigned"
    )
    per_100k = serializers.FloatField(required=False, allow_null=True, help_text="null below the size floor")
    rank = serializers.IntegerField(required=False, allow_null=True)


class RankingSerializer(serializers.Serializer):
    period = StatisticsPeriodSerializer()
    rows = RankingRowSerializer(many=True)


class StatisticsErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


FILTER_PARAMETERS = [
    OpenApiParameter("start", str, description="YYYY-MM-DD, first day counted (default: 12 months ago)"),
    OpenApiParameter("end", str, description="YYYY-MM-DD, last day counted (default: today)"),
    OpenApiParameter(
        "province", str, description="GB/T 2260 two-digit code (a provincial regulator always gets theirs)"
    ),
    OpenApiParameter("carrier", int, description="carrier organisation id"),
    OpenApiParameter("platform", int, description="platform organisation id"),
    OpenApiParameter("category", str, enum=[c for c, _l in Complaint.Category.choices]),
    OpenApiParameter("state", str, enum=[s for s, _l in Complaint.State.choices]),
]


class StatisticsAPIView(APIView):
    permission_classes = [IsStatisticsReader]

    def filters(self, request):
        form = StatisticsFilterForm(request.query_params)
        if not form.is_valid():
            return None, Response({"code": "invalid", "detail": form.errors}, status=400)
        filters = statistics_filters_for_user(user=request.user, filters=form.filters())
        return filters, None

    @staticmethod
    def period(filters) -> dict:
        return {"start": filters.start, "end": filters.end, "province": filters.province}


class HeadlineView(StatisticsAPIView):
    @extend_schema(
        parameters=FILTER_PARAMETERS,
        responses={200: HeadlineSerializer, 400: StatisticsErrorSerializer},
        summary="Headline figures for the period, each with the previous period's value",
    )
    def get(self, request):
        filters, error = self.filters(request)
        if error:
            return error
        figures = statistics_headline(filters)
        return Response(HeadlineSerializer({"period": self.period(filters), "figures": figures}).data)


class TrendsView(StatisticsAPIView):
    @extend_schema(
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("interval", str, enum=list(INTERVALS), description="bucket size (default month)"),
            OpenApiParameter("lens", str, enum=list(LENSES), description="one series per value (default category)"),
        ],
        responses={200: TrendSerializer, 400: StatisticsErrorSerializer},
        summary="Complaints received over time, one series per category, platform, carrier, province or state",
    )
    def get(self, request):
        filters, error = self.filters(request)
        if error:
            return error
        lens = request.query_params.get("lens") or "category"
        if lens not in LENSES:
            detail = {"lens": [f"one of {', '.join(LENSES)}"]}
            return Response({"code": "invalid", "detail": detail}, status=400)
        trend = statistics_trend(filters, lens)
        return Response(TrendSerializer({"period": self.period(filters), **trend}).data)


def _ranking_view(selector, summary: str):
    class RankingView(StatisticsAPIView):
        @extend_schema(
            parameters=FILTER_PARAMETERS,
            responses={200: RankingSerializer, 400: StatisticsErrorSerializer},
            summary=summary,
        )
        def get(self, request):
            filters, error = self.filters(request)
            if error:
                return error
            return Response(RankingSerializer({"period": self.period(filters), "rows": selector(filters)}).data)

    RankingView.__name__ = RankingView.__qualname__ = f"{selector.__name__.title().replace('_', '')}View"
    return RankingView


PlatformsView = _ranking_view(
    statistics_by_platform, "Complaints by platform, raw and per 100,000 lookups (above the size floor)"
)
CarriersView = _ranking_view(statistics_by_carrier, "Complaints by carrier, raw and per 100,000 numbers re-assigned")
ProvincesView = _ranking_view(statistics_by_province, "Complaints by province")
CategoriesView = _ranking_view(statistics_by_category, "Complaints by category")
