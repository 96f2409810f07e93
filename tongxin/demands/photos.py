"""Photos residents and staff attach: checked by content (not by name), size-limited,
and re-encoded as JPEG, which drops EXIF — and with it the GPS position of a phone
photo — before anything is stored."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PHOTOS = 5
MAX_BYTES = int(getattr(settings, "TONGXIN_PHOTO_MAX_BYTES", 8 * 1024 * 1024))
MAX_PIXELS = 40_000_000  # a decompression bomb is refused, not decoded
LONG_SIDE = 2048  # stored photos are scaled down to this
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "MPO"}


@dataclass
class CleanPhoto:
    name: str
    data: bytes
    width: int
    height: int

    def save_to(self, demand, *, event=None, public: bool = True):
        from tongxin.demands.models import Attachment

        attachment = Attachment(
            demand=demand,
            event=event,
            original_name=self.name[:200],
            size=len(self.data),
            width=self.width,
            height=self.height,
            public=public,
        )
        attachment.file.save("photo.jpg", ContentFile(self.data), save=False)
        attachment.save()
        return attachment


def clean_photo(upload) -> CleanPhoto:
    """An uploaded file as a clean JPEG, or a ValidationError in Chinese."""
    name = getattr(upload, "name", "") or "photo"
    if upload.size > MAX_BYTES:
        raise ValidationError(
            _("照片「%(name)s」太大（最大 %(mb)d MB）。") % {"name": name, "mb": MAX_BYTES // 2**20}
        )
    raw = upload.read()
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            kind = probe.format
            if kind not in ACCEPTED_FORMATS:
                raise ValidationError(
                    _("「%(name)s」不是支持的图片格式（请上传 JPG、PNG 或 WEBP）。")
                    % {"name": name}
                )
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError(_("照片「%(name)s」像素过大。") % {"name": name})
            probe.verify()
        with Image.open(io.BytesIO(raw)) as image:
            image = ImageOps.exif_transpose(image)  # keep it upright once EXIF is gone
            image = _opaque(image)
            image.thumbnail((LONG_SIDE, LONG_SIDE))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=85, optimize=True)  # no exif= : none is written
    except ValidationError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(_("「%(name)s」不是有效的图片文件。") % {"name": name}) from None
    return CleanPhoto(name=name, data=out.getvalue(), width=image.width, height=image.height)


def _opaque(image: Image.Image) -> Image.Image:
    """RGB for JPEG. Transparent parts become white: a plain convert() would turn them
    black (the colour stored under full transparency), hiding a screenshot's text."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def clean_photos(uploads) -> list[CleanPhoto]:
    uploads = list(uploads)
    if len(uploads) > MAX_PHOTOS:
        raise ValidationError(_("最多上传 %(n)d 张照片。") % {"n": MAX_PHOTOS})
    return [clean_photo(u) for u in uploads]
