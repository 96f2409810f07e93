# An event's actor indexed only where set: a resident's report, a sweep's escalation and
# the other steps nobody signed in made have none, and an intake wrote an index entry
# for its NULL. The index serves a user's steps (actor = …) and a deleted user's SET
# NULL (actor IN …), which both planners match with the condition.
#
# As in 0014, the foreign key's db_index changes only the migration state: done as
# AlterField, SQLite would copy the whole event table into a new one. Its index is
# dropped by name; the partial one takes its place.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FOREIGN_KEY_INDEX = "demands_demandevent_actor_id_1181f095"


def drop_foreign_key_index(apps, schema_editor):
    schema_editor.execute(f'DROP INDEX IF EXISTS "{FOREIGN_KEY_INDEX}"')


def create_foreign_key_index(apps, schema_editor):
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS "{FOREIGN_KEY_INDEX}" ON "demands_demandevent" ("actor_id")'
    )


def analyze_partial_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute('ANALYZE "event_actor"')


class Migration(migrations.Migration):
    dependencies = [
        ("demands", "0014_indexes_where_set"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(drop_foreign_key_index, create_foreign_key_index)
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="demandevent",
                    name="actor",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="demand_events",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="操作人",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="demandevent",
            index=models.Index(
                condition=models.Q(("actor__isnull", False)), fields=["actor"], name="event_actor"
            ),
        ),
        migrations.RunPython(analyze_partial_index, migrations.RunPython.noop),
    ]
