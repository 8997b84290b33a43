"""The product catalogue and its system roles (docs/domain.md#product-role-and-instance).
Loaded by migration 0002 and re-applied idempotently by ``load_catalogue``."""

PRODUCTS = [
    # code, name, supports_custom_roles, has_projects, supports_teams, [(role key, role name)]
    (
        "cms",
        "Content Management System",
        True,
        False,
        False,
        [("content_admins", "Content Admins"), ("content_editors", "Content Editors")],
    ),
    (
        "commerce_connect",
        "Commerce Connect",
        True,
        False,
        False,
        [("administrator", "Administrator"), ("user", "User")],
    ),
    (
        "configured_commerce",
        "Configured Commerce",
        True,
        False,
        False,
        [("administrator", "Administrator"), ("user", "User")],
    ),
    (
        "cmp",
        "Content Marketing Platform",
        True,
        False,
        True,
        [("administrator", "Administrator"), ("user", "User")],
    ),
    (
        "web_experimentation",
        "Web Experimentation",
        False,
        True,
        False,
        [
            ("administrator", "Administrator"),
            ("project_owner", "Project Owner"),
            ("editor", "Editor"),
        ],
    ),
    (
        "feature_experimentation",
        "Feature Experimentation",
        False,
        True,
        False,
        [
            ("administrator", "Administrator"),
            ("project_owner", "Project Owner"),
            ("editor", "Editor"),
        ],
    ),
    (
        "odp",
        "Optimizely Data Platform",
        True,
        False,
        False,
        [("administrator", "Administrator"), ("user", "User")],
    ),
    (
        "product_recommendations",
        "Product Recommendations",
        True,
        False,
        False,
        [("administrator", "Administrator"), ("user", "User")],
    ),
    (
        "content_recommendations",
        "Content Recommendations",
        True,
        False,
        False,
        [("administrator", "Administrator"), ("user", "User")],
    ),
    (
        "admin_center",
        "Opti ID Admin Center",
        False,
        False,
        False,
        [("administrator", "Administrator")],
    ),
]

# The Admin Center is itself a product of the catalogue; its one role is held through the
# *Admin Center Administrators* system group.
ADMIN_CENTER_PRODUCT = "admin_center"
ADMIN_CENTER_ROLE = "administrator"


def load_catalogue(Product, Role) -> None:
    for code, name, custom_roles, projects, teams, roles in PRODUCTS:
        product, _ = Product.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "supports_custom_roles": custom_roles,
                "has_projects": projects,
                "supports_teams": teams,
            },
        )
        for key, role_name in roles:
            Role.objects.update_or_create(product=product, key=key, defaults={"name": role_name, "kind": "system"})
