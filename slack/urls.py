from django.urls import path

from slack import views

app_name = "slack"

urlpatterns = [
    path("events", views.slack_events, name="events"),
]
