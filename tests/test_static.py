"""The production static pipeline (WhiteNoise's compressed manifest) must build."""

from django.core.management import call_command


def test_collectstatic_builds_the_manifest(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    manifest = (tmp_path / "staticfiles.json").read_text()
    for name in ("vendor/htmx/htmx.min.js", "vendor/bootstrap/bootstrap.min.css", "js/tongxin.js"):
        assert name in manifest
