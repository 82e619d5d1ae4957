"""Image checks: the alt decision tree, WCAG contrast, CIEDE2000 against Sharma's published pairs, the palette,
perceptual-hash near-duplicates, a real (tiny) diffusers safety checker, and bare files with XMP alt text."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

import imagehash
import numpy as np
import pytest
import torch
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
from PIL import Image, ImageDraw, ImageEnhance, PngImagePlugin
from transformers import CLIPConfig, CLIPImageProcessorPil

from briefcraft.agents.art_director import final_alt_text
from briefcraft.errors import CheckError, ConfigError
from briefcraft.schemas import ComplianceReport, Composition, Finding, ImageAsset, ItemCheck, ReferenceImage
from briefcraft.tools.image_checks import (
    ALT_TEXT_MAX_CHARS,
    SafetyChecker,
    alt_text,
    check_image,
    check_image_file,
    ciede2000,
    dominant_colours,
    srgb_to_lab,
    xmp_alt_text,
)

PALETTE = ("#1F3A5F", "#F4E9D8", "#E8A33D")
HEADLINE, CTA = "Cold brew, warm hello", "Find a store"
SAFETY_LINE = "image-safety: not checked (no local safety classifier; set BRIEFCRAFT_SAFETY_MODEL)"
NO_REFERENCES = ("image-similarity.near-duplicate: no protected or competitor images in brand memory (add images with "
                 "a role)")
NO_COMPOSITION = "accessibility.contrast: no composition record"

#: Sharma, Wu & Dalal (2005), "The CIEDE2000 Color-Difference Formula: Implementation Notes, Supplementary Test
#: Data, and Mathematical Observations", Table 1: (L1, a1, b1), (L2, a2, b2), ΔE00.
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -1.1848, -84.8006), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -0.9009, -85.5211), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


# --- builders ------------------------------------------------------------------------------------------


def _two_tone(left: str, right: str, left_share: float = 0.6) -> Image.Image:
    """100x100: ``left`` on the left ``left_share`` of the width, ``right`` on the rest."""
    image = Image.new("RGB", (100, 100), right)
    ImageDraw.Draw(image).rectangle((0, 0, round(100 * left_share) - 1, 99), fill=left)
    return image


def _shapes(seed: int) -> Image.Image:
    """A picture of a dozen coloured rectangles: enough structure for a perceptual hash."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (256, 256), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = (int(v) for v in rng.integers(0, 200, 2))
        w, h = (int(v) for v in rng.integers(20, 120, 2))
        draw.rectangle((x, y, x + w, y + h), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return image


def _composition(contrast: float) -> Composition:
    return Composition(crop=(0, 0, 100, 100), font="Pillow's bundled font", ink="#F4E9D8", panel="#1F3A5F",
                       contrast=contrast, text_boxes=[(6, 6, 90, 30)])


def _asset(*, alt: str | None = None, headline: str = HEADLINE, cta: str = CTA,
           composition: Composition | None = None) -> ImageAsset:
    return ImageAsset(
        id="visual-instagram-1", channel="instagram", stage="preview", renderer="layout", label="Layout", path="x.png",
        sha256="0" * 64, width=100, height=100, headline=headline, cta=cta,
        alt_text=alt_text(headline=headline, cta=cta) if alt is None else alt, palette=list(PALETTE), seed=1,
        composition=composition or _composition(7.1),
    )


def _check(
    asset: ImageAsset, image: Image.Image, *, palette: tuple[str, ...] = PALETTE,
    references: Sequence[ReferenceImage] = (), max_delta_e: float = 25.0, max_distance: int = 8,
    safety: SafetyChecker | None = None, safety_unchecked_blocks: bool = False,
) -> ItemCheck:
    return check_image(asset, image, palette=palette, references=references, max_delta_e=max_delta_e,
                       max_distance=max_distance, safety=safety, safety_unchecked_blocks=safety_unchecked_blocks)


def _safety_info(item_id: str) -> Finding:
    return Finding(
        rule_id="image-safety.not-checked", severity="info", item_id=item_id,
        message="the image was not checked for unsafe content: no local safety classifier",
        suggestion="set BRIEFCRAFT_SAFETY_MODEL to a StableDiffusionSafetyChecker folder",
        source="settings: BRIEFCRAFT_SAFETY_MODEL, BRIEFCRAFT_SAFETY_UNCHECKED_BLOCKS",
    )


def _xmp(alt: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/">'
        "<Iptc4xmpCore:AltTextAccessibility><rdf:Alt>"
        f'<rdf:li xml:lang="fr">Bonjour</rdf:li><rdf:li xml:lang="x-default">{alt}</rdf:li>'
        "</rdf:Alt></Iptc4xmpCore:AltTextAccessibility></rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


# --- alt text ------------------------------------------------------------------------------------------


def test_alt_text_follows_the_w3c_decision_tree() -> None:
    assert alt_text(headline=HEADLINE, cta=CTA, subject="a glass of cold brew", decorative=True) == ""
    assert alt_text(headline=HEADLINE, cta=CTA, subject="a glass of cold brew") == (
        "Cold brew, warm hello — button: Find a store — a glass of cold brew"
    )
    assert alt_text(headline=HEADLINE) == "Cold brew, warm hello"
    assert alt_text(headline="", cta=CTA) == "button: Find a store"
    assert alt_text(headline="", subject="a glass of  cold brew on a\nwooden table") == (
        "a glass of cold brew on a wooden table"
    )
    with pytest.raises(ValueError, match="needs a headline, a call to action or a subject; or decorative=True"):
        alt_text(headline=" ")


def test_alt_text_cuts_the_description_never_the_text_in_the_image() -> None:
    long = alt_text(headline=HEADLINE, cta=CTA, subject="beans " * 60)
    assert long.startswith("Cold brew, warm hello — button: Find a store — beans beans")
    assert long.endswith("beans…") and len(long) == 245 <= ALT_TEXT_MAX_CHARS
    headline = "Fresh " * 50  # 299 characters: the headline stays whole, the description goes
    assert alt_text(headline=headline, subject="a glass of cold brew") == headline.strip()


def test_a_final_shows_its_own_text_then_the_reviewers_description() -> None:
    preview = ImageAsset(id="img-x-1", channel="instagram_feed", renderer="layout", label="Layout render",
                         path="p.png", sha256="0" * 64, width=512, height=512, headline="oat-milk cold brew",
                         alt_text="oat-milk cold brew", stage="preview", palette=list(PALETTE), seed=1)
    # not edited: the final's text, then the product where the headline does not name it
    assert final_alt_text(preview, HEADLINE, CTA, "oat-milk cold brew") == (
        "Cold brew, warm hello — button: Find a store — oat-milk cold brew")
    # a reviewer's description replaces the product; the preview's own text they kept at the start is not repeated
    # (nor the final's, with or without its button: a reviewer may write what the final will show)
    for edited in ("A bottle on a tram seat", "Oat-milk cold brew —  A bottle on a tram seat",
                   "Cold brew, warm hello — A bottle on a tram seat",
                   "Cold brew, warm hello — button: Find a store. A bottle on a tram seat"):
        assert final_alt_text(preview.model_copy(update={"alt_text": edited}), HEADLINE, CTA, "oat-milk cold brew") \
            == "Cold brew, warm hello — button: Find a store — A bottle on a tram seat"
    assert final_alt_text(preview.model_copy(update={"alt_text": "OAT-MILK COLD BREW"}), HEADLINE, "",
                          "oat-milk cold brew") == "Cold brew, warm hello — oat-milk cold brew"


def test_alt_text_findings() -> None:
    image = _two_tone("#1F3A5F", "#F4E9D8")
    assert _check(_asset(), image).findings == [_safety_info("visual-instagram-1")]
    assert _check(_asset(alt="cold  BREW, warm hello and more"), image).findings[:-1] == []

    empty = _check(_asset(alt=""), image).findings[0]
    assert (empty.rule_id, empty.severity, empty.field, empty.source) == (
        "accessibility.alt-text", "error", "alt_text", "WCAG 2.2 SC 1.1.1"
    )
    assert empty.message == "the alt text is empty but the image has text in it; a screen reader would skip that text"
    assert empty.suggestion == "use 'Cold brew, warm hello — button: Find a store'"

    wrong = _check(_asset(alt="A coffee advert"), image).findings[0]
    assert (wrong.rule_id, wrong.severity) == ("accessibility.alt-text", "error")
    assert wrong.message == (
        "the alt text 'A coffee advert' does not contain the headline 'Cold brew, warm hello' shown in the image"
    )
    # An image without text may have an empty alt (decorative).
    assert _check(_asset(alt="", headline="", cta=""), image).findings[:-1] == []


# --- contrast ------------------------------------------------------------------------------------------


def test_contrast_from_the_composition_record() -> None:
    image = _two_tone("#1F3A5F", "#F4E9D8")
    passed = _check(_asset(composition=_composition(4.5)), image)
    assert passed.findings[:-1] == []
    assert passed.tested == ["accessibility.alt-text", "accessibility.contrast", "visual-palette.off-palette"]
    assert passed.not_checked == [NO_REFERENCES, SAFETY_LINE]

    failed = _check(_asset(composition=_composition(3.2)), image).findings[0]
    assert (failed.rule_id, failed.severity, failed.source) == ("accessibility.contrast", "error", "WCAG 2.2 SC 1.4.3")
    assert failed.message == "the headline's contrast is 3.2:1; at least 4.5:1 is needed"

    asset = _asset().model_copy(update={"composition": None})
    unchecked = _check(asset, image)
    assert unchecked.tested == ["accessibility.alt-text", "visual-palette.off-palette"]
    assert unchecked.not_checked == [NO_COMPOSITION, NO_REFERENCES, SAFETY_LINE]


# --- colour --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA)
def test_ciede2000_matches_sharma(lab1: tuple[float, ...], lab2: tuple[float, ...], expected: float) -> None:
    assert abs(float(ciede2000(lab1, lab2)) - expected) < 1e-4
    assert abs(float(ciede2000(lab2, lab1)) - expected) < 1e-4  # symmetric


def test_ciede2000_is_vectorised_and_lab_is_d65() -> None:
    first = np.array([pair[0] for pair in SHARMA])
    second = np.array([pair[1] for pair in SHARMA])
    assert np.abs(ciede2000(first, second) - np.array([pair[2] for pair in SHARMA])).max() < 1e-4
    assert ciede2000(first[:, None, :], second[None, :, :]).shape == (34, 34)
    # sRGB white and red in CIELAB (D65): Lindbloom's reference values.
    assert np.abs(srgb_to_lab([255, 255, 255]) - [100.0, 0.0, 0.0]).max() < 1e-3
    assert np.abs(srgb_to_lab([[255, 0, 0]]) - [[53.2408, 80.0925, 67.2032]]).max() < 1e-3


def test_off_palette_dominant_colour_is_a_warning() -> None:
    image = _two_tone("#00C800", "#1F3A5F")
    assert dominant_colours(image) == [("#00C800", 0.6), ("#1F3A5F", 0.4)]
    findings = _check(_asset(), image).findings
    assert [(f.rule_id, f.severity) for f in findings] == [
        ("visual-palette.off-palette", "warning"), ("image-safety.not-checked", "info")
    ]
    assert findings[0].message == (
        "dominant colour #00C800 covers 60% of the image; the nearest brand colour #F4E9D8 is ΔE00 33.9 away "
        "(allowed: 25)"
    )
    assert findings[0].source == "brand kit: palette"
    # The same picture passes when the limit allows it, and a colour under 10% never counts.
    assert _check(_asset(), image, max_delta_e=34.0).findings[:-1] == []
    assert _check(_asset(), _two_tone("#00C800", "#1F3A5F", left_share=0.09)).findings[:-1] == []


def test_a_bad_palette_colour_is_refused() -> None:
    with pytest.raises(CheckError, match="brand palette: unknown color specifier: 'teal-ish'"):
        _check(_asset(), _two_tone("#1F3A5F", "#F4E9D8"), palette=("#1F3A5F", "teal-ish"))


# --- similarity ----------------------------------------------------------------------------------------


def test_near_duplicates_of_reference_images_are_errors() -> None:
    reference = _shapes(1)
    copy = ImageEnhance.Brightness(reference).enhance(1.3).resize((200, 200))
    references = [
        ReferenceImage(source="rival-ad.png", phash=str(imagehash.phash(reference)), role="competitor"),
        ReferenceImage(source="hero-2024.png", phash=str(imagehash.phash(_shapes(3))), role="protected"),
    ]
    check = _check(_asset(), copy, references=references, palette=())
    near = [f for f in check.findings if f.rule_id == "image-similarity.near-duplicate"]
    assert [(f.severity, f.message) for f in near] == [(
        "error", "near-duplicate of the competitor image rival-ad.png (perceptual-hash distance 4; 8 or less counts "
        "as a copy)",
    )]
    assert near[0].source == "brand memory: competitor images"
    assert check.tested == ["accessibility.alt-text", "accessibility.contrast", "image-similarity.near-duplicate"]
    assert check.not_checked == ["visual-palette.off-palette: no brand palette", SAFETY_LINE]

    protected = [references[0].model_copy(update={"role": "protected", "source": "hero.png"})]
    flagged = _check(_asset(), copy, references=protected, palette=()).findings[0]
    assert flagged.message.startswith("near-duplicate of the protected image hero.png (perceptual-hash distance 4;")
    # Beyond the distance limit, and an unrelated picture, are not copies.
    assert _check(_asset(), copy, references=references, max_distance=3, palette=()).findings[:-1] == []
    assert _check(_asset(), _shapes(2), references=references, palette=()).findings[:-1] == []


# --- safety --------------------------------------------------------------------------------------------


def test_unchecked_safety_is_visible_and_blocks_only_when_asked() -> None:
    image = _two_tone("#1F3A5F", "#F4E9D8")
    relaxed = _check(_asset(), image)
    assert SAFETY_LINE in relaxed.not_checked and "image-safety.unsafe" not in relaxed.tested
    report = ComplianceReport.of([relaxed])
    assert (report.status, report.score) == ("approved", 100)  # info: visible, not counted

    blocking = _check(_asset(), image, safety_unchecked_blocks=True)
    assert blocking.findings == [_safety_info("visual-instagram-1").model_copy(update={"severity": "error"})]
    assert ComplianceReport.of([blocking]).status == "blocked"


def _embedding(model: StableDiffusionSafetyChecker, processor: CLIPImageProcessorPil, image: Image.Image
               ) -> torch.Tensor:
    pixels = processor(images=image, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        return model.visual_projection(model.vision_model(pixels)[1])[0]


@pytest.fixture(scope="module")
def safety_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Image.Image, Image.Image]:
    """A tiny StableDiffusionSafetyChecker (random weights) whose one concept is the embedding of ``flagged``."""
    torch.manual_seed(0)
    text = dict(hidden_size=8, intermediate_size=16, num_attention_heads=2, num_hidden_layers=1, vocab_size=64,
                bos_token_id=0, eos_token_id=1, pad_token_id=1)
    vision = dict(hidden_size=8, intermediate_size=16, num_attention_heads=2, num_hidden_layers=1, image_size=32,
                  patch_size=8)
    model = StableDiffusionSafetyChecker(CLIPConfig(text_config=text, vision_config=vision, projection_dim=8)).eval()
    processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    flagged = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    safe = Image.new("RGB", (64, 64), (30, 120, 200))
    concept, other = _embedding(model, processor, flagged), _embedding(model, processor, safe)
    similarity = float(torch.nn.functional.cosine_similarity(concept, other, dim=0))
    assert similarity < 0.99  # the threshold below separates the two images by a wide margin
    with torch.no_grad():
        # has_nsfw_concepts: cosine(image, concept) - threshold > 0 for any concept; thresholds above 1 never fire.
        model.concept_embeds[0] = concept
        model.concept_embeds_weights.fill_(2.0)
        model.concept_embeds_weights[0] = (1.0 + similarity) / 2
        model.special_care_embeds_weights.fill_(2.0)
    folder = tmp_path_factory.mktemp("safety")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder, flagged, safe


def test_safety_checker_flags_and_clears(safety_folder: tuple[Path, Image.Image, Image.Image]) -> None:
    folder, flagged, safe = safety_folder
    checker = SafetyChecker.load(folder)
    assert (checker.is_unsafe(flagged), checker.is_unsafe(safe)) == (True, False)

    unsafe = _check(_asset(), flagged, safety=checker, palette=())
    assert unsafe.tested == ["accessibility.alt-text", "accessibility.contrast", "image-safety.unsafe"]
    assert SAFETY_LINE not in unsafe.not_checked
    assert [(f.rule_id, f.severity, f.message) for f in unsafe.findings] == [
        ("image-safety.unsafe", "error", f"the safety classifier ({folder.name}) flags the image as unsafe")
    ]
    assert _check(_asset(), safe, safety=checker, palette=()).findings == []


def test_safety_checker_folder_must_hold_both_parts(tmp_path: Path) -> None:
    message = f"BRIEFCRAFT_SAFETY_MODEL={tmp_path}: no config.json there; allowed: a folder holding Stable"
    with pytest.raises(ConfigError, match=re.escape(message)):
        SafetyChecker.load(tmp_path)


# --- bare files ----------------------------------------------------------------------------------------


def _file_check(path: Path, alt_text: str | None = None) -> ItemCheck:
    return check_image_file(path, palette=PALETTE, references=(), max_delta_e=25.0, max_distance=8, safety=None,
                            safety_unchecked_blocks=False, alt_text=alt_text)


def test_file_alt_text_comes_from_xmp_in_png_and_jpeg(tmp_path: Path) -> None:
    image = _two_tone("#1F3A5F", "#F4E9D8")
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", _xmp("Cold brew &amp; friends").decode())
    image.save(png := tmp_path / "ad.png", pnginfo=info)
    image.save(jpeg := tmp_path / "ad.jpg", quality=95, xmp=_xmp("A jpeg's alt"))
    with Image.open(png) as opened:
        assert xmp_alt_text(opened) == "Cold brew & friends"
    with Image.open(jpeg) as opened:
        assert xmp_alt_text(opened) == "A jpeg's alt"

    check = _file_check(png)
    assert check.item_id == "ad.png"
    assert check.findings == [_safety_info("ad.png")]
    assert check.tested == ["accessibility.alt-text", "visual-palette.off-palette"]
    assert check.not_checked == [NO_COMPOSITION, NO_REFERENCES, SAFETY_LINE]
    assert _file_check(jpeg).findings == [_safety_info("ad.jpg")]


def test_file_without_alt_text_is_a_warning(tmp_path: Path) -> None:
    _two_tone("#1F3A5F", "#F4E9D8").save(path := tmp_path / "plain.png")
    warning = _file_check(path).findings[0]
    assert (warning.rule_id, warning.severity, warning.message) == (
        "accessibility.alt-text", "warning", "no alt text recorded with the file"
    )
    assert _file_check(path, alt_text="Cold brew, warm hello").findings == [_safety_info("plain.png")]


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    (text := tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(CheckError) as refused:
        _file_check(text)
    assert str(refused.value) == f"{text}: not a readable image; allowed: JPEG, PNG, WEBP"
    buffer = io.BytesIO()
    _two_tone("#1F3A5F", "#F4E9D8").save(buffer, format="GIF")
    (gif := tmp_path / "anim.gif").write_bytes(buffer.getvalue())
    with pytest.raises(CheckError, match=r"anim\.gif: not a readable image; allowed: JPEG, PNG, WEBP$"):
        _file_check(gif)
    buffer = io.BytesIO()
    _two_tone("#1F3A5F", "#F4E9D8").save(buffer, format="PNG")
    (cut := tmp_path / "cut.png").write_bytes(buffer.getvalue()[:-30])
    with pytest.raises(CheckError, match=r"cut\.png: not a readable image \(.+\); allowed: JPEG, PNG, WEBP$"):
        _file_check(cut)
    with pytest.raises(CheckError, match=r"missing\.png: no such file; allowed: JPEG, PNG, WEBP$"):
        _file_check(tmp_path / "missing.png")
    bad = PngImagePlugin.PngInfo()
    bad.add_itxt("XML:com.adobe.xmp", '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')
    _two_tone("#1F3A5F", "#F4E9D8").save(evil := tmp_path / "evil.png", pnginfo=bad)
    with pytest.raises(CheckError, match=r"evil\.png: the XMP metadata declares a DOCTYPE or entities"):
        _file_check(evil)
