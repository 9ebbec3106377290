from django.urls import path
from django.views.generic import RedirectView

app_name = "web"
urlpatterns = [
    path("", RedirectView.as_view(url="/api/v2/docs", permanent=False), name="home"),
]
