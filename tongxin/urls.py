from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("tongxin.core.urls")),
    path("", include("tongxin.accounts.urls")),
    path("areas/", include("tongxin.areas.urls")),
    path("residents/import/", include("tongxin.people.import_urls")),
    path("residents/", include("tongxin.people.urls")),
    path("party/", include("tongxin.party.urls")),
    path("demands/", include("tongxin.demands.urls")),
    path("board/", include("tongxin.board.urls")),
    path("dashboards/", include("tongxin.dashboards.urls")),
    # Public pages (no sign-in): reporting a problem and following it.
    path("", include(("tongxin.demands.urls_public", "public"))),
    path("open311/v2/", include("tongxin.open311.urls")),
    path("calendar/", include("tongxin.workcal.urls")),
    path("api/", include("tongxin.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("django-admin/", admin.site.urls),
]
