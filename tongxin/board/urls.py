from django.urls import path

from tongxin.board import views

app_name = "board"
urlpatterns = [
    path("community/<int:pk>/", views.community, name="community"),
    path("street/<int:pk>/", views.street, name="street"),
    path("hot/", views.hot_topics, name="hot"),
    path("hot/merge/", views.merge_group, name="merge"),
]
