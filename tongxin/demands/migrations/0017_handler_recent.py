# A handler's demands newest first (only where a handler is set: a new demand costs no
# entry): the part of a staff member's ledger that they handle is read 31 rows at a
# time in the ledger's order (Scope.page_parts), beside the part located in their area.
# The ledger read their OR whole and SQLite sorted it: a community worker's ledger at a
# million demands took 51 ms a page.

from django.db import migrations, models


def analyze_new_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute('ANALYZE "demand_handler_recent"')


class Migration(migrations.Migration):
    dependencies = [
        ("demands", "0016_handler_state"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="demand",
            index=models.Index(
                condition=models.Q(("handler__isnull", False)),
                fields=["handler", "-created_at", "-id"],
                name="demand_handler_recent",
            ),
        ),
        migrations.RunPython(analyze_new_index, migrations.RunPython.noop),
    ]
