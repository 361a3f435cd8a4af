from django.urls import path

from portal.bulkcheck import api, views
from portal.core.upload_limits import upload_limits

console_patterns = [
    path("", views.staff_bulk_check_files, name="staff_bulk_check_files"),
    path("<uuid:public_id>/", views.staff_bulk_check_file, name="staff_bulk_check_file"),
    path("<uuid:public_id>/progress", views.staff_bulk_check_file_progress, name="staff_bulk_check_file_progress"),
    path("<uuid:public_id>/result.csv", views.staff_bulk_check_file_result, name="staff_bulk_check_file_result"),
]

api_patterns = [
    path(
        "platform/number-check-files",
        upload_limits(per_file="BULK_CHECK_FILE_MAX_BYTES")(api.BulkCheckFilesView.as_view()),
        name="api_bulk_check_files",
    ),
    path("platform/number-check-files/<uuid:public_id>", api.BulkCheckFileView.as_view(), name="api_bulk_check_file"),
    path(
        "platform/number-check-files/<uuid:public_id>/result",
        api.BulkCheckFileResultView.as_view(),
        name="api_bulk_check_file_result",
    ),
]
