"""The image modality: how images are shown (crisp upscaling, PNG data URIs, labelled sheets) and how a person's
picture is prepared the way MNIST was made. numpy and PIL only: sheets tile through explorer.backends.grid.

Shapes: images are (H, W) arrays (grayscale) or (H, W, 3) (colour, channels last), float in [0, 1] or uint8 in
[0, 255]; batches are (N, H, W) or (N, H, W, 3).
"""
from __future__ import annotations

import base64
import html
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from ..validation import InputError

DISPLAY_SCALE = 10  # 28 px -> 280 px, nearest neighbour so every pixel stays a crisp square


def as_unit_float(image) -> np.ndarray:
    """(H, W) uint8 0..255 or float 0..1 -> float32 0..1."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    return np.clip(a.astype(np.float32), 0.0, 1.0)


def to_uint8(image) -> np.ndarray:
    """(H, W) float in [0, 1] or uint8 -> uint8 (H, W)."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a
    return (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def to_display_image(image, scale: int = DISPLAY_SCALE) -> np.ndarray:
    """Upscale a small image by an integer factor with nearest neighbour: (H, W) -> (H*s, W*s) uint8, and a colour
    (H, W, 3) -> (H*s, W*s, 3).

    Each source pixel becomes an s x s block, so the digit stays crisp instead of a blurred 28-pixel speck.
    """
    a = to_uint8(image)
    if a.ndim != 2 and not (a.ndim == 3 and a.shape[2] == 3):
        raise ValueError(f"expected a (H, W) grayscale or (H, W, 3) colour image, got shape {a.shape}")
    return np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)


def png_bytes(image_u8: np.ndarray) -> bytes:
    """Encode a uint8 grayscale (H, W) or RGB (H, W, 3) image as PNG (fast settings: these images are tiny)."""
    buf = io.BytesIO()
    Image.fromarray(image_u8).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def png_data_uri(image_u8: np.ndarray) -> str:
    """A `data:image/png;base64,...` URI, so the browser shows the image without a second request."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image_u8)).decode("ascii")


def display_scale(shape) -> int:
    """The nearest-neighbour factor that shows an image of `shape` at about 280 px: 10 for 28 px, 9 for 32, 4 for 64."""
    return max(1, round(DISPLAY_SCALE * 28 / shape[0]))


def blank(shape=(28, 28), level: int = 240) -> str:
    """A light grey placeholder of an image's size, as a data URI (shown until something is decoded)."""
    return png_data_uri(to_display_image(np.full(shape, level, np.uint8), display_scale(shape)))


# ---------------------------------------------------------------------------------------------------------------
# Sheets: many images as one picture (downloads, the API, the traversal rows)

def sheet(imgs: np.ndarray, nrow: int, scale: int = 1, padding: int = 2) -> np.ndarray:
    """Tile images (N, H, W) or (N, H, W, 3) in [0, 1] into one uint8 sheet, `nrow` per row, white gaps (torchvision's make_grid),
    then upscale by `scale` with nearest neighbour."""
    from ..backends.grid import make_grid

    return to_display_image(make_grid(imgs, nrow=nrow, padding=padding, pad_value=1.0), scale)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        return ImageFont.load_default()


def labelled_sheet(rows: np.ndarray, row_labels: list[str], col_labels: list[str] | None = None, scale: int = 2,
                   title: str = "") -> np.ndarray:
    """rows (R, C, H, W[, 3]) in [0, 1] -> uint8 sheet with a label left of each row and one above each column."""
    r, c = rows.shape[:2]
    grid = sheet(rows.reshape(r * c, *rows.shape[2:]), nrow=c, scale=scale)
    cell = (rows.shape[2] + 2) * scale
    font = _font(max(11, 6 * scale))
    left = max(8 + int(max((font.getlength(t) for t in row_labels), default=0)), 40)
    top = (cell // 2 + 4 if col_labels else 4) + (22 if title else 0)
    mode = "L" if grid.ndim == 2 else "RGB"
    canvas = Image.new(mode, (left + grid.shape[1] + 4, top + grid.shape[0] + 4), 255 if mode == "L" else "white")
    canvas.paste(Image.fromarray(grid), (left, top))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 4), title, fill=0, font=font)
    anchors = isinstance(font, ImageFont.FreeTypeFont)  # the old bitmap fallback font takes no anchor
    for i, t in enumerate(row_labels):
        draw.text((4, top + i * cell + cell // 2), t, fill=0, font=font, anchor="lm" if anchors else None)
    for j, t in enumerate(col_labels or []):
        draw.text((left + j * cell + cell // 2, top - 4), t, fill=0, font=font, anchor="mb" if anchors else None)
    return np.asarray(canvas)


def figure_row(imgs, captions: list[str], css_class: str = "xp-strip") -> str:
    """Images with a caption under each, as escaped HTML (28x28 PNGs that the page scales up crisply)."""
    figs = "".join(f'<figure><img src="{png_data_uri(to_uint8(im))}" alt="{html.escape(c)}">'
                   f"<figcaption>{html.escape(c)}</figcaption></figure>" for im, c in zip(imgs, captions))
    return f'<div class="{css_class}">{figs}</div>'


# ---------------------------------------------------------------------------------------------------------------
# A person's picture, prepared the way MNIST was made


# 4096 x 4096 (16.8 megapixels) covers a 12-megapixel phone photo. The limit is checked on the header, before any
# pixel is decoded: a 10,000 x 10,000 PNG of a few hundred KB would otherwise take 400 MB of memory (RGBA: 100
# million pixels x 4 bytes) and seconds of CPU, whatever the upload size limit says.
MAX_INPUT_SIDE = 4096
MAX_INPUT_PIXELS = MAX_INPUT_SIDE * MAX_INPUT_SIDE
MAX_INPUT_BYTES = 10 * 1024 * 1024  # the app's upload limit (explorer.ui.style.MAX_UPLOAD)
WORK_SIDE = 1024    # larger images are shrunk to this first: the result is 28 x 28, and it keeps the work bounded
BOX = 20            # MNIST: the digit's longer side is scaled to 20 px...
CANVAS = 28         # ...and pasted into 28 x 28 with its centre of mass at the centre
MIN_CONTRAST = 0.15  # the ink must stand out from the background by 15 % of the range, or the image counts as empty
INK = 0.1           # after normalising, pixels below this are background (JPEG noise, paper texture)


def _empty_message(what: str) -> str:
    if what == "drawing":
        return "The sketchpad is empty: draw something first (a digit or a garment, filling most of the pad)."
    return (f"The {what} looks blank: nothing stands out from its background. Upload a picture of one digit or "
            "one garment on a plain background.")


def open_image(source) -> Image.Image:
    """A PIL image from a file path, bytes, a numpy array or a PIL image, checked for size before decoding.

    Raises InputError for a file that is not an image, is damaged, or has more than MAX_INPUT_PIXELS pixels.
    """
    if isinstance(source, Image.Image):
        im = source
    elif isinstance(source, np.ndarray):
        a = source
        if a.ndim not in (2, 3) or a.size == 0 or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
            raise InputError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4), got shape {list(a.shape)}.")
        _check_size(a.shape[1], a.shape[0])
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.dtype == np.bool_:
            a = a.astype(np.uint8) * 255
        elif a.dtype.kind == "f":
            a = np.nan_to_num(a.astype(np.float32))
            if a.ndim == 2:
                return Image.fromarray(a)  # mode F; to_gray scales 0..1 or 0..255
            a = (np.clip(a / (1.0 if a.max() <= 1.0 else 255.0), 0, 1) * 255 + 0.5).astype(np.uint8)
        elif a.dtype != np.uint8 and not (a.dtype == np.uint16 and a.ndim == 2):
            a = a.astype(np.int64)
            a = (np.clip(a, 0, 65535).astype(np.uint16) if a.ndim == 2 and a.max() > 255
                 else np.clip(a, 0, 255).astype(np.uint8))
        return Image.fromarray(a)
    else:
        if isinstance(source, (bytes, bytearray, memoryview)):
            if len(source) > MAX_INPUT_BYTES:
                raise InputError(f"the image is {len(source) / 2**20:.1f} MB; the limit is "
                                 f"{MAX_INPUT_BYTES // 2**20} MB. Send a smaller file.")
            fp = io.BytesIO(bytes(source))
        elif isinstance(source, (str, Path)):
            path = Path(source)
            if not path.is_file():
                raise InputError("the image file was not found on the server; upload it again.")
            if path.stat().st_size > MAX_INPUT_BYTES:
                raise InputError(f"the image file is {path.stat().st_size / 2**20:.1f} MB; the limit is "
                                 f"{MAX_INPUT_BYTES // 2**20} MB. Send a smaller file.")
            fp = path
        else:
            raise InputError(f"expected an image (a file upload or a drawing), got {type(source).__name__}.")
        try:
            with warnings.catch_warnings():
                # PIL warns from 89 M pixels and refuses from 179 M; the size check below is stricter anyway.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(fp)  # lazy: reads the header only
        except UnidentifiedImageError:
            raise InputError("this file is not an image the app can read. Upload a PNG, JPEG, GIF, BMP, WebP or "
                             "TIFF picture.") from None
        except Image.DecompressionBombError:
            raise InputError(f"the image is far too large (over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels); "
                             f"the limit is {MAX_INPUT_PIXELS / 1e6:.1f} megapixels (e.g. {MAX_INPUT_SIDE} x "
                             f"{MAX_INPUT_SIDE}). Scale it down first.") from None
        except OSError:
            raise InputError("this file could not be read as an image (damaged or not an image). Upload a PNG, "
                             "JPEG, GIF, BMP, WebP or TIFF picture.") from None
    _check_size(*im.size)
    return im


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_INPUT_PIXELS:
        raise InputError(f"the image is {width:,} x {height:,} pixels; the limit is {MAX_INPUT_PIXELS / 1e6:.1f} "
                         f"megapixels (e.g. {MAX_INPUT_SIDE} x {MAX_INPUT_SIDE}). Scale it down or crop it to the "
                         "digit or garment first.")
    if width < 1 or height < 1:
        raise InputError("the image has no pixels.")


def to_gray(im: Image.Image) -> tuple[np.ndarray, list[str]]:
    """Any PIL image -> (H, W) float32 in [0, 1] (bright = 1), plus notes on what was done.

    16-bit images are scaled from their full range; transparent pixels are composited onto a background that
    contrasts with the ink (so black strokes on a transparent canvas and white strokes on one both survive);
    CMYK, palette, YCbCr and 1-bit images go through PIL's own conversions.
    """
    notes: list[str] = []
    if im.format == "JPEG" and max(im.size) > 2 * WORK_SIDE:
        im.draft(im.mode, (WORK_SIDE, WORK_SIDE))  # decode a big photo at 1/2, 1/4 or 1/8 scale: much faster
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InputError("the image file is damaged or truncated and could not be decoded. Upload it again "
                         "or save it as a PNG.") from None
    if getattr(im, "n_frames", 1) > 1:
        notes.append("used the first frame")
    im = ImageOps.exif_transpose(im)  # photos taken sideways carry their rotation in EXIF
    if max(im.size) > WORK_SIDE and im.mode not in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        im = im.copy()
        im.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(im).astype(np.float32)
        top = float(a.max()) if a.size else 0.0
        if mode.startswith("I;16") or 255 < top <= 65535:
            scale = 65535.0
            notes.append("16-bit image scaled from 0..65535")
        elif top > 65535:
            scale = top
            notes.append("32-bit image scaled by its maximum")
        elif mode == "F" and top <= 1.0:
            scale = 1.0
        else:
            scale = 255.0
        a = np.clip(a / scale, 0.0, 1.0)
        if max(a.shape) > WORK_SIDE:
            f = Image.fromarray(a)
            f.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
            a = np.asarray(f)
        return a.astype(np.float32), notes
    has_alpha = "A" in im.getbands() or "transparency" in im.info
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA")).astype(np.float32) / 255.0
        alpha = rgba[:, :, 3]
        lum = rgba[:, :, :3] @ np.array([0.299, 0.587, 0.114], np.float32)
        if alpha.min() < 0.999:
            solid = alpha > 0.5
            if not solid.any():
                return np.zeros(alpha.shape, np.float32), notes + ["fully transparent"]
            ink_dark = float(np.average(lum[solid], weights=alpha[solid])) < 0.5
            background = 1.0 if ink_dark else 0.0
            notes.append("transparent pixels composited onto " + ("white" if ink_dark else "black"))
            return (lum * alpha + background * (1.0 - alpha)).astype(np.float32), notes
        return lum.astype(np.float32), notes
    try:
        gray = im.convert("L")
    except ValueError:  # e.g. LAB, which PIL cannot convert: its first band is the lightness
        gray = im.getchannel(0)
        notes.append(f"{mode} image: used its first band ({im.getbands()[0]})")
    return np.asarray(gray).astype(np.float32) / 255.0, notes


def prepare_like_mnist(gray: np.ndarray, what: str = "image") -> tuple[np.ndarray, list[str]]:
    """(H, W) float in [0, 1] -> (28, 28) uint8 prepared as MNIST digits were, plus notes.

    Light ink on a dark background (the border decides: a light border means dark ink, which is inverted); the
    background is subtracted and the ink stretched to full range; the ink's bounding box is scaled (anti-aliased,
    aspect kept) so that its longer side is 20 px, and pasted into 28 x 28 with its centre of mass at the centre.
    Raises InputError when nothing stands out from the background.
    """
    a = np.asarray(gray, dtype=np.float32)
    notes: list[str] = []
    h, w = a.shape
    k = max(1, round(0.02 * min(h, w)))  # the outer 2 % on each side
    border = np.concatenate([a[:k].ravel(), a[-k:].ravel(), a[:, :k].ravel(), a[:, -k:].ravel()])
    background = float(np.median(border))
    if background > 0.5:
        a, background = 1.0 - a, 1.0 - background
        notes.append("inverted (dark ink on a light background)")
    contrast = float(a.max()) - background
    if contrast < MIN_CONTRAST:
        raise InputError(_empty_message(what))
    ink = np.clip((a - background) / contrast, 0.0, 1.0)
    ink[ink < INK] = 0.0
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    ch, cw = crop.shape
    s = BOX / max(ch, cw)
    size = (max(1, round(cw * s)), max(1, round(ch * s)))  # PIL sizes are (width, height)
    small = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))
    small = np.clip(small, 0.0, 1.0)
    # Thin strokes of a large picture fade when scaled down; MNIST's strokes reach full white, so stretch again.
    small = small / small.max() if small.max() > 0 else np.ones_like(small)
    cy, cx = _centre_of_mass(small)
    sh, sw = small.shape
    centre = (CANVAS - 1) / 2  # 13.5: between the two middle pixels, in pixel-index coordinates
    top = int(np.clip(round(centre - cy), 0, CANVAS - sh))
    left = int(np.clip(round(centre - cx), 0, CANVAS - sw))
    out = np.zeros((CANVAS, CANVAS), np.float32)
    out[top:top + sh, left:left + sw] = small
    return to_uint8(out), notes


def _centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    try:
        from scipy import ndimage  # installed with scikit-learn
        cy, cx = ndimage.center_of_mass(a)
    except ImportError:
        ys, xs = np.indices(a.shape)
        total = a.sum()
        cy, cx = (ys * a).sum() / total, (xs * a).sum() / total
    return float(cy), float(cx)


def prepare_image(source, what: str = "image") -> tuple[np.ndarray, list[str]]:
    """Any image source (path, bytes, array, PIL image) -> ((28, 28) uint8 prepared like MNIST, notes)."""
    gray, notes = to_gray(open_image(source))
    prepared, more = prepare_like_mnist(gray, what)
    return prepared, notes + more


def prepare_resized(source, shape, what: str = "image") -> tuple[np.ndarray, list[str]]:
    """Any image source -> (uint8 image of `shape`, notes), prepared as an image folder is for training
    (training.data): converted to RGB (shape (H, W, 3)) or grayscale ((H, W)), its shorter side resized to H and
    the centre cropped to H x W. For colour and non-28x28 models, whose data was not made the MNIST way."""
    from ..backends.grid import resize_centre_crop

    im = open_image(source)
    colour = len(shape) == 3
    notes = []
    if im.mode in ("RGBA", "LA", "P"):       # transparent pixels onto white, as a photo of a drawing would be
        im = im.convert("RGBA")
        flat = Image.new("RGBA", im.size, "white")
        flat.alpha_composite(im)
        im = flat
        notes.append("transparency onto white")
    im = im.convert("RGB" if colour else "L")
    h, w = int(shape[0]), int(shape[1])
    if im.size != (w, h):
        notes.append(f"resized from {im.size[0]}×{im.size[1]} and centre-cropped to {w}×{h}")
        im = resize_centre_crop(im, h, w)
    return np.asarray(im, dtype=np.uint8).copy(), notes


class ImageModality:
    """What the page needs to know about image outputs: their placeholder and how one is shown."""
    name = "image"

    def __init__(self, shape=(28, 28)):
        self.shape = tuple(shape)             # (H, W) grayscale, (H, W, 3) colour
        self.colour = len(self.shape) == 3
        self.scale = display_scale(self.shape)
        self.blank = blank(self.shape)

    def render(self, image, scale: int | None = None) -> str:
        """One output (H, W) or (H, W, 3) as a crisp, upscaled PNG data URI (about 280 px at any model size)."""
        return png_data_uri(to_display_image(image, scale or self.scale))

    @property
    def mnist_style(self) -> bool:
        """28x28 grayscale models take a person's picture prepared the MNIST way (crop to the ink, 20 px, centre of
        mass); others take it resized and centre-cropped, as their image folder was."""
        return self.shape == (28, 28)

    def prepare(self, source, what: str = "image") -> tuple[np.ndarray, list[str]]:
        """A person's picture as this model's input, plus notes on each step (shown under it)."""
        if self.mnist_style:
            return prepare_image(source, what)
        return prepare_resized(source, self.shape, what)

    def render_small(self, image) -> str:
        """One output at its own size (the page scales it up with CSS): fewer bytes for rows of many."""
        return png_data_uri(to_uint8(image))

    def array(self, image, scale: int | None = None) -> np.ndarray:
        """One output as the uint8 array the API's image outputs send."""
        return to_display_image(image, scale or self.scale)
