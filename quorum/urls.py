from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotation.api.tokens import TokenApi

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/auth/token/", TokenApi.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file (the CSP allows no inline script);
    # Swagger UI sets inline styles as it draws, so this page alone allows them (it shows no user text).
    path(
        "api/docs/",
        csp_replace({"style-src": [SELF, UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("api/", include("annotation.api.urls")),
    path("api/", include("consensus.api.urls")),
    path("", include("annotation.urls")),
    path("", include("consensus.urls")),
]

# JSON under /api/, the usual pages elsewhere.
handler400 = "annotation.api.errors.bad_request"
handler403 = "annotation.api.errors.permission_denied"
handler404 = "annotation.api.errors.page_not_found"
handler500 = "annotation.api.errors.server_error"
