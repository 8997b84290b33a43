"""Load the product catalogue and its system roles (docs/domain.md#product-role-and-instance)."""

from django.db import migrations


def load(apps, schema_editor):
    from admincenter.catalogue import load_catalogue

    load_catalogue(
        apps.get_model("admincenter", "Product"), apps.get_model("admincenter", "Role")
    )


class Migration(migrations.Migration):
    dependencies = [("admincenter", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
