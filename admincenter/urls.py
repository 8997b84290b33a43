"""Admin Center URLs: sign-in and the pages for administrators."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from admincenter import views
from admincenter.views import signin

urlpatterns = [
    path("login/", signin.login, name="login"),
    path("my-access/", signin.my_access, name="my_access"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("", include("admincenter.views.routes")),
    path("", include("admincenter.audit.urls")),
]
