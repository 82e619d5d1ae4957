"""Deterministic compliance checks on images: alt text and contrast, brand palette, near-duplicates, safety.

Each family has stable rule ids ``family.specific``. Colours are compared in CIELAB with CIEDE2000 (Sharma, Wu &
Dalal 2005); near-duplicates by perceptual hash (imagehash.phash, as brand memory stores them); safety by diffusers'
``StableDiffusionSafetyChecker`` loaded from a local folder. A check that cannot run is listed in ``not_checked``,
never reported as passed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image, ImageColor, UnidentifiedImageError

from briefcraft.errors import CheckError, ConfigError
from briefcraft.imaging import IMAGE_TYPES, dominant_colours, srgb_to_linear
from briefcraft.schemas import Finding, ImageAsset, ItemCheck, ReferenceImage
from briefcraft.tools.compose import AA_CONTRAST, check_palette

__all__ = [
    "ALT_TEXT_MAX_CHARS", "CONTRAST_NOT_CHECKED", "DOMINANT_SHARE", "SAFETY_NOT_CHECKED", "SafetyChecker", "alt_text",
    "check_image", "check_image_file", "ciede2000", "srgb_to_lab", "xmp_alt_text",
]

#: Alt text longer than this is tiring in a screen reader; only a description is ever cut to fit.
ALT_TEXT_MAX_CHARS = 250
#: A colour covering at least this share of the image counts as dominant for the palette check.
DOMINANT_SHARE = 0.10

#: What ``not_checked`` says when no safety classifier is configured, and when an image has no composition record.
SAFETY_NOT_CHECKED = "image-safety: not checked (no local safety classifier; set BRIEFCRAFT_SAFETY_MODEL)"
CONTRAST_NOT_CHECKED = "accessibility.contrast: no composition record"

_ALT_SOURCE = "WCAG 2.2 SC 1.1.1"
_CONTRAST_SOURCE = "WCAG 2.2 SC 1.4.3"
#: sRGB (IEC 61966-2-1) linear RGB to CIE XYZ, and the D65 white point it is relative to.
_SRGB_TO_XYZ = np.array([
    [0.4124564, 0.3575761, 0.1804375],
    [0.2126729, 0.7151522, 0.0721750],
    [0.0193339, 0.1191920, 0.9503041],
])
_D65 = np.array([0.95047, 1.0, 1.08883])
_XMP_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


# --- alt text ------------------------------------------------------------------------------------------


def alt_text(*, headline: str, cta: str = "", subject: str = "", decorative: bool = False) -> str:
    """Alt text by the W3C alt decision tree: the text in the image verbatim, then a short description.

    A decorative image gets ``""``. An image with text carries the headline and the call to action
    (``button: CTA``) whole, however long; the subject description is cut at a word to keep the alt within
    ``ALT_TEXT_MAX_CHARS``, or left out when no room remains. An image with neither text nor subject is refused.
    """
    if decorative:
        return ""
    headline, cta, subject = (" ".join(part.split()) for part in (headline, cta, subject))
    if not (headline or cta or subject):
        raise ValueError("alt_text needs a headline, a call to action or a subject; or decorative=True")
    text = " — ".join(part for part in (headline, f"button: {cta}" if cta else "") if part)
    separator = " — " if text and subject else ""
    description = _shorten(subject, ALT_TEXT_MAX_CHARS - len(text) - len(separator))
    return f"{text}{separator}{description}" if description else text


def _shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, with an ellipsis; "" when nothing fits."""
    if len(text) <= limit:
        return text
    if limit < 2:
        return ""
    cut = text[: limit - 1]
    if text[limit - 1] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    cut = cut.rstrip(" ,;:—-")
    return f"{cut}…" if cut else ""


def _normal(text: str) -> str:
    # Screen readers speak case and runs of spaces alike, so neither makes the headline missing.
    return " ".join(text.split()).casefold()


def _alt_findings(item_id: str, alt: str, headline: str, cta: str) -> list[Finding]:
    suggestion = alt_text(headline=headline, cta=cta) if headline or cta else None
    if not alt.strip() and (headline or cta):
        return [Finding(
            rule_id="accessibility.alt-text", severity="error", item_id=item_id, field="alt_text",
            message="the alt text is empty but the image has text in it; a screen reader would skip that text",
            suggestion=f"use {suggestion!r}", source=_ALT_SOURCE,
        )]
    if headline and _normal(headline) not in _normal(alt):
        return [Finding(
            rule_id="accessibility.alt-text", severity="error", item_id=item_id, field="alt_text",
            message=f"the alt text {alt!r} does not contain the headline {headline!r} shown in the image",
            suggestion=f"use {suggestion!r}", source=_ALT_SOURCE,
        )]
    return []


def _contrast_findings(item_id: str, contrast: float) -> list[Finding]:
    if contrast >= AA_CONTRAST:
        return []
    return [Finding(
        rule_id="accessibility.contrast", severity="error", item_id=item_id,
        message=f"the headline's contrast is {contrast:g}:1; at least {AA_CONTRAST:g}:1 is needed",
        suggestion="re-compose the image so the headline sits on a panel", source=_CONTRAST_SOURCE,
    )]


# --- colour --------------------------------------------------------------------------------------------


def srgb_to_lab(rgb: ArrayLike) -> np.ndarray:
    """CIELAB (D65) of sRGB colours given as 0-255 values on the last axis."""
    xyz = srgb_to_linear(rgb) @ _SRGB_TO_XYZ.T / _D65
    delta = 6 / 29
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4 / 29)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)


def ciede2000(lab1: ArrayLike, lab2: ArrayLike) -> np.ndarray:
    """CIEDE2000 colour difference (kL = kC = kH = 1) between CIELAB colours, broadcast over leading axes.

    Follows Sharma, Wu & Dalal (2005), "The CIEDE2000 Color-Difference Formula: Implementation Notes", including
    the hue rules for achromatic colours and for hues more than 180° apart.
    """
    l1, a1, b1 = np.moveaxis(np.asarray(lab1, dtype=np.float64), -1, 0)
    l2, a2, b2 = np.moveaxis(np.asarray(lab2, dtype=np.float64), -1, 0)
    c_bar7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c_bar7 / (c_bar7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    chromatic = c1p * c2p != 0

    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(chromatic, dh, 0.0)
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))

    l_bar, c_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(
        ~chromatic, h_sum,
        np.where(np.abs(h1p - h2p) <= 180, h_sum / 2, np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2)),
    )
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * c_bar
    s_h = 1 + 0.015 * c_bar * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    tl, tc, th = d_l / s_l, d_c / s_c, d_h / s_h
    return np.asarray(np.sqrt(tl**2 + tc**2 + th**2 + r_t * tc * th))


def _palette_findings(item_id: str, image: Image.Image, palette: Sequence[str], max_delta_e: float
                      ) -> list[Finding]:
    try:
        check_palette(tuple(palette))
    except ValueError as error:
        raise CheckError(f"brand palette: {error}; allowed: colours as '#RRGGBB'") from error
    dominant = [(colour, share) for colour, share in dominant_colours(image) if share >= DOMINANT_SHARE]
    if not dominant:
        return []
    brand = srgb_to_lab([ImageColor.getrgb(c)[:3] for c in palette])
    seen = srgb_to_lab([ImageColor.getrgb(c)[:3] for c, _ in dominant])
    distances = ciede2000(seen[:, None, :], brand[None, :, :])  # dominant x palette
    nearest = distances.argmin(axis=1)
    findings: list[Finding] = []
    for row, (colour, share) in enumerate(dominant):
        distance = float(distances[row, nearest[row]])
        if distance > max_delta_e:
            findings.append(Finding(
                rule_id="visual-palette.off-palette", severity="warning", item_id=item_id,
                message=f"dominant colour {colour} covers {share:.0%} of the image; the nearest brand colour "
                f"{palette[int(nearest[row])]} is ΔE00 {distance:.1f} away (allowed: {max_delta_e:g})",
                suggestion=f"move {colour} towards {palette[int(nearest[row])]} or regenerate within the palette",
                source="brand kit: palette",
            ))
    return findings


# --- similarity and safety -----------------------------------------------------------------------------


def _similarity_findings(item_id: str, image: Image.Image, references: Sequence[ReferenceImage],
                         max_distance: int) -> list[Finding]:
    import imagehash

    own = imagehash.phash(image.convert("RGB"))
    findings: list[Finding] = []
    for reference in references:
        distance = int(own - imagehash.hex_to_hash(reference.phash))
        if distance <= max_distance:
            findings.append(Finding(
                rule_id="image-similarity.near-duplicate", severity="error", item_id=item_id,
                message=f"near-duplicate of the {reference.role} image {reference.source} (perceptual-hash "
                f"distance {distance}; {max_distance} or less counts as a copy)",
                suggestion="regenerate with another seed or prompt", source=f"brand memory: {reference.role} images",
            ))
    return findings


class SafetyChecker:
    """diffusers' ``StableDiffusionSafetyChecker`` and its CLIP image processor, loaded from one local folder."""

    def __init__(self, model: Any, processor: Any, *, name: str) -> None:
        self._model = model
        self._processor = processor
        self.name = name

    @classmethod
    def load(cls, path: Path) -> SafetyChecker:
        """Load the checker and the CLIP image processor saved together in ``path``; ``ConfigError`` if absent."""
        from transformers import CLIPImageProcessorPil

        from briefcraft.tools.imagegen import import_diffusers

        folder = Path(path).expanduser()
        allowed = ("allowed: a folder holding StableDiffusionSafetyChecker.save_pretrained and "
                   "CLIPImageProcessor.save_pretrained output")
        missing = [name for name in ("config.json", "preprocessor_config.json") if not (folder / name).is_file()]
        if missing:
            raise ConfigError(f"BRIEFCRAFT_SAFETY_MODEL={folder}: no {missing[0]} there; {allowed}")
        checker_class = import_diffusers().pipelines.stable_diffusion.StableDiffusionSafetyChecker
        try:
            model = checker_class.from_pretrained(folder, local_files_only=True)
            # The PIL processor gives the same pixels as CLIPImageProcessor without needing torchvision.
            processor = CLIPImageProcessorPil.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"BRIEFCRAFT_SAFETY_MODEL={folder}: could not load ({str(error).splitlines()[0]}); {allowed}"
            ) from error
        return cls(model.eval(), processor, name=folder.name)

    def is_unsafe(self, image: Image.Image) -> bool:
        """Whether the classifier flags ``image`` for any of its unsafe concepts."""
        rgb = image.convert("RGB")
        pixels = self._processor(images=rgb, return_tensors="pt")["pixel_values"]
        # The checker blacks out flagged images in the list it is given: hand it a throwaway copy.
        _, flags = self._model(clip_input=pixels.to(self._model.device, self._model.dtype),
                               images=[np.asarray(rgb)])
        return bool(flags[0])


def _safety_findings(item_id: str, image: Image.Image, safety: SafetyChecker) -> list[Finding]:
    if not safety.is_unsafe(image):
        return []
    return [Finding(
        rule_id="image-safety.unsafe", severity="error", item_id=item_id,
        message=f"the safety classifier ({safety.name}) flags the image as unsafe",
        suggestion="regenerate with another prompt or seed", source="safety classifier: StableDiffusionSafetyChecker",
    )]


# --- the checks ----------------------------------------------------------------------------------------


def _visual_check(
    item_id: str, image: Image.Image, *, palette: Sequence[str], references: Sequence[ReferenceImage],
    max_delta_e: float, max_distance: int, safety: SafetyChecker | None, safety_unchecked_blocks: bool,
    check: ItemCheck,
) -> ItemCheck:
    """``check`` (holding the accessibility results) with the palette, similarity and safety families added."""
    findings, tested, not_checked = list(check.findings), list(check.tested), list(check.not_checked)
    if palette:
        tested.append("visual-palette.off-palette")
        findings += _palette_findings(item_id, image, palette, max_delta_e)
    else:
        not_checked.append("visual-palette.off-palette: no brand palette")
    if references:
        tested.append("image-similarity.near-duplicate")
        findings += _similarity_findings(item_id, image, references, max_distance)
    else:
        not_checked.append("image-similarity.near-duplicate: no protected or competitor images in brand memory "
                           "(add images with a role)")
    if safety is not None:
        tested.append("image-safety.unsafe")
        findings += _safety_findings(item_id, image, safety)
    else:
        not_checked.append(SAFETY_NOT_CHECKED)
        # Visible in the report either way; it counts against the item only when the settings say so.
        findings.append(Finding(
            rule_id="image-safety.not-checked", severity="error" if safety_unchecked_blocks else "info",
            item_id=item_id, message="the image was not checked for unsafe content: no local safety classifier",
            suggestion="set BRIEFCRAFT_SAFETY_MODEL to a StableDiffusionSafetyChecker folder",
            source="settings: BRIEFCRAFT_SAFETY_MODEL, BRIEFCRAFT_SAFETY_UNCHECKED_BLOCKS",
        ))
    return ItemCheck(item_id=item_id, findings=findings, tested=tested, not_checked=not_checked)


def check_image(
    asset: ImageAsset, image: Image.Image, *, palette: Sequence[str], references: Sequence[ReferenceImage] = (),
    max_delta_e: float, max_distance: int, safety: SafetyChecker | None, safety_unchecked_blocks: bool,
) -> ItemCheck:
    """Every image check on one rendered asset (``image`` is its pixels): accessibility, palette, similarity, safety."""
    findings = _alt_findings(asset.id, asset.alt_text, asset.headline, asset.cta)
    tested, not_checked = ["accessibility.alt-text"], []
    if asset.composition is None:
        not_checked.append(CONTRAST_NOT_CHECKED)
    else:
        tested.append("accessibility.contrast")
        findings += _contrast_findings(asset.id, asset.composition.contrast)
    return _visual_check(
        asset.id, image, palette=palette, references=references, max_delta_e=max_delta_e, max_distance=max_distance,
        safety=safety, safety_unchecked_blocks=safety_unchecked_blocks,
        check=ItemCheck(item_id=asset.id, findings=findings, tested=tested, not_checked=not_checked),
    )


def xmp_alt_text(image: Image.Image) -> str | None:
    """The image's XMP ``Iptc4xmpCore:AltTextAccessibility`` (x-default first), or None when it has none.

    Pillow exposes the XMP packet of a PNG iTXt ``XML:com.adobe.xmp`` chunk, a JPEG APP1 segment and a WebP
    XMP chunk alike as ``info["xmp"]``. ``CheckError`` when the packet is not XML.
    """
    packet = image.info.get("xmp")
    if not packet:
        return None
    text = packet.decode("utf-8", "replace") if isinstance(packet, bytes) else str(packet)
    if re.search(r"<!(?:DOCTYPE|ENTITY)", text):  # XMP forbids them; refusing them rules out entity expansion
        raise CheckError("the XMP metadata declares a DOCTYPE or entities, which XMP does not allow")
    try:
        root = ET.fromstring(text.strip().strip("\x00"))
    except ET.ParseError as error:
        raise CheckError(f"the XMP metadata is not valid XML ({error})") from error
    items = root.findall(".//Iptc4xmpCore:AltTextAccessibility/rdf:Alt/rdf:li", _XMP_NS)
    items.sort(key=lambda li: li.get(_XML_LANG) != "x-default")
    return next((" ".join((li.text or "").split()) for li in items if (li.text or "").strip()), None)


def check_image_file(
    path: Path, *, palette: Sequence[str], references: Sequence[ReferenceImage], max_delta_e: float,
    max_distance: int, safety: SafetyChecker | None, safety_unchecked_blocks: bool, alt_text: str | None = None,
) -> ItemCheck:
    """Every image check that a bare file allows (``briefcraft check image FILE``); the file name is the item id.

    The alt text is ``alt_text`` or, when None, the file's XMP alt text. Contrast needs a composition record,
    which a bare file lacks. ``CheckError`` naming the file and the allowed formats when it cannot be read.
    """
    formats = sorted(set(IMAGE_TYPES.values()))
    allowed = f"allowed: {', '.join(formats)}"
    if not path.is_file():
        raise CheckError(f"{path}: no such file; {allowed}")
    try:
        with Image.open(path, formats=formats) as opened:
            opened.load()
            image = opened.copy()
    except UnidentifiedImageError as error:
        raise CheckError(f"{path}: not a readable image; {allowed}") from error
    except OSError as error:  # e.g. a truncated file: Pillow says where it broke
        raise CheckError(f"{path}: not a readable image ({str(error).splitlines()[0]}); {allowed}") from error
    item_id = path.name
    try:
        alt = alt_text if alt_text is not None else xmp_alt_text(image)
    except CheckError as error:
        raise CheckError(f"{path}: {error}") from error
    findings: list[Finding] = []
    if not (alt or "").strip():
        findings.append(Finding(
            rule_id="accessibility.alt-text", severity="warning", item_id=item_id, field="alt_text",
            message="no alt text recorded with the file", source=_ALT_SOURCE,
            suggestion="pass the alt text, or record it as XMP Iptc4xmpCore:AltTextAccessibility",
        ))
    return _visual_check(
        item_id, image, palette=palette, references=references, max_delta_e=max_delta_e, max_distance=max_distance,
        safety=safety, safety_unchecked_blocks=safety_unchecked_blocks,
        check=ItemCheck(item_id=item_id, findings=findings, tested=["accessibility.alt-text"],
                        not_checked=[CONTRAST_NOT_CHECKED]),
    )
