from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from ruche.api.v2 import api as api_v2

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v2/", api_v2.urls),
    path("api/docs", RedirectView.as_view(url="/api/v2/docs", permanent=False)),
    path("", include("ruche.web.urls")),
]
