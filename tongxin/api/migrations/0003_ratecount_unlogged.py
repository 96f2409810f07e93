# The rate counts need not survive a crash (a lost minute of counting lets a client a
# few more requests, once): on PostgreSQL the table is UNLOGGED, so counting a request
# writes no WAL and its commit does not wait for the disk — an API request made two
# such waits, its count's and its work's. After a crash PostgreSQL starts the table
# empty. (SQLite has no such tables; its commits do not wait for the disk in WAL mode
# with synchronous=NORMAL anyway.)

from django.db import migrations


def unlogged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE api_ratecount SET UNLOGGED")


def logged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE api_ratecount SET LOGGED")


class Migration(migrations.Migration):
    dependencies = [("api", "0002_ratecount")]

    operations = [migrations.RunPython(unlogged, logged)]
