"""Provenance: say how an image was made, in every way a platform might keep.

``stamp`` marks a final image four ways, in this order, each covering what came before:

1. an optional visible label ("AI-generated") in a corner, on a panel that stands out from the picture;
2. an invisible watermark (imwatermark ``dwtDct``, as SDXL does) carrying a short payload and a CRC-32, so that
   reading it back either gives the payload or nothing;
3. XMP metadata (IPTC ``DigitalSourceType``, ``dc:title``, alt text as ``Iptc4xmpCore:AltTextAccessibility``
   and ``dc:description``), in the PNG's ``iTXt XML:com.adobe.xmp`` chunk or the JPEG's APP1 segment;
4. a C2PA manifest, signed last so that its hard binding covers the final bytes.

``verify`` reads all four back; ``survival_report`` re-encodes an image as platforms do and says which survive.
Signing needs a certificate chain: ``init_dev_ca`` makes a local one for development (trusted by nobody else).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.util
import io
import os
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import c2pa  # type: ignore[import-untyped]
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin
from pydantic import BaseModel, Field, computed_field

from briefcraft import __version__
from briefcraft.errors import ProvenanceError
from briefcraft.settings import Settings
from briefcraft.tools.assets import part_path
from briefcraft.tools.compose import contrast_ratio

__all__ = [
    "ALGORITHMIC", "COMPOSITE", "COMPOSITE_SYNTHETIC", "DIGITAL_SOURCE_TYPES", "IPTC_DIGITAL_SOURCE_TYPE",
    "LABEL_CORNERS", "TRAINED", "WATERMARK_MAX_BYTES", "WATERMARK_METHODS", "DevCA", "IngredientInfo",
    "SignerFiles", "Stamp", "StampReport", "SurvivalReport", "SurvivalVariant", "ValidationIssue", "VerifyReport",
    "WatermarkMethod", "XmpFields",
    "init_dev_ca", "signer_files", "stamp", "survival_report", "verify",
]

#: The IPTC digital source type vocabulary; a type is this prefix plus its name.
IPTC_DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
#: Made by a generative model (a diffusion or Images API picture, as it came out).
TRAINED = IPTC_DIGITAL_SOURCE_TYPE + "trainedAlgorithmicMedia"
#: A generated picture with other elements (copy, logo) set on it.
COMPOSITE = IPTC_DIGITAL_SOURCE_TYPE + "compositeWithTrainedAlgorithmicMedia"
#: Made by an algorithm without a trained model (the layout renderer).
ALGORITHMIC = IPTC_DIGITAL_SOURCE_TYPE + "algorithmicMedia"
#: Synthetic elements composited, none of them from a trained model (a layout render with copy set on it).
COMPOSITE_SYNTHETIC = IPTC_DIGITAL_SOURCE_TYPE + "compositeSynthetic"
#: The digital source types ``stamp`` accepts; the composite ones place their ingredient, the others take it as input.
DIGITAL_SOURCE_TYPES = (TRAINED, COMPOSITE, ALGORITHMIC, COMPOSITE_SYNTHETIC)
_COMPOSITES = (COMPOSITE, COMPOSITE_SYNTHETIC)

#: Longest watermark payload, in UTF-8 bytes (a CRC-32 follows it: 96 bits embedded in all).
WATERMARK_MAX_BYTES = 8
#: imwatermark refuses images with fewer pixels than 256x256.
_WATERMARK_MIN_PIXELS = 256 * 256
#: imwatermark's methods. ``dwtDct`` is SDXL's: it lives in the U (chroma) channel only, so JPEG's 4:2:0
#: subsampling erases it, any resize misaligns its blocks, and on smooth pictures it may not even read back
#: unchanged (``stamp`` checks and says so). ``dwtDctSvd`` reads back on those and survives JPEG q85 (measured,
#: docs/COMPLIANCE.md), at ~0.5 s more per megapixel (its loops are imwatermark's Python; dwtDct's run as array
#: operations here, ``_fast_max_dct``). Readers try both; the CRC tells which one is there.
WatermarkMethod = Literal["dwtDct", "dwtDctSvd"]
WATERMARK_METHODS: tuple[WatermarkMethod, ...] = ("dwtDct", "dwtDctSvd")
_WATERMARK_SKIPPED = "skipped: image smaller than 256x256"

Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
LABEL_CORNERS: tuple[Corner, ...] = ("top-left", "top-right", "bottom-left", "bottom-right")

_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
#: Our own JPEGs: quality 95 without chroma subsampling, so the watermark (in the U channel) survives our encoding.
_JPEG_OPTIONS: dict[str, Any] = {"quality": 95, "subsampling": 0}
#: The label that links the ingredient to the actions that use it.
_INGREDIENT = "ingredient"
_READ_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
#: No claim thumbnail: it would add a second, unwatermarked copy of the picture to every file.
_SIGN_SETTINGS = {**_READ_SETTINGS, "builder": {"thumbnail": {"enabled": False}}}


# --- signing certificates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignerFiles:
    """A PEM certificate chain (signer first, then its CAs) and the signer's PEM private key."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class DevCA:
    """The files of a local development CA: its root certificate and the signing chain and key it issued."""

    root: Path
    cert: Path
    key: Path

    @property
    def signer(self) -> SignerFiles:
        """The signing certificate chain and key."""
        return SignerFiles(self.cert, self.key)


def _dev_ca_files(directory: Path) -> DevCA:
    return DevCA(root=directory / "root.pem", cert=directory / "signer.pem", key=directory / "signer.key")


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` with permissions ``mode`` from the start, replacing ``path`` at once."""
    partial = part_path(path)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    partial.replace(path)


def init_dev_ca(directory: Path, *, force: bool = False) -> DevCA:
    """Create a local root CA and an ES256 signing certificate it issued, in ``directory``.

    Writes ``root.pem`` (the trust anchor to give ``verify``), ``signer.pem`` (the signer, then the root) and
    ``signer.key`` (mode 0600). C2PA validators accept the chain because the signer is no CA, may only sign
    (KeyUsage digitalSignature, critical) and has the emailProtection extended key usage; nobody trusts the root
    unless told to.
    """
    files = _dev_ca_files(directory)
    if not force and any(p.exists() for p in (files.root, files.cert, files.key)):
        raise ProvenanceError(f"a dev CA already exists in {directory}; "
                              "replace it with `briefcraft provenance init-dev-ca --force`")
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # a little slack for clocks behind ours
    org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "briefcraft development CA (not publicly trusted)")
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "briefcraft dev root CA"), org])
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name).public_key(root_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "briefcraft dev signer"), org]))
        .issuer_name(root_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    _write(files.key, key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
    _write(files.cert, leaf.public_bytes(pem) + root.public_bytes(pem), 0o644)
    _write(files.root, root.public_bytes(pem), 0o644)
    return files


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    """A CA's key signs certificates; a signer's key signs content and nothing else."""
    return x509.KeyUsage(
        digital_signature=not cert_sign, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )


def signer_files(settings: Settings, *, create_dev_ca: bool = False) -> SignerFiles:
    """The configured signing chain and key (BRIEFCRAFT_PROVENANCE_CERT/KEY), else the dev CA's (made first
    when ``create_dev_ca`` and there is none yet)."""
    cert, key = settings.provenance_cert, settings.provenance_key
    if (cert is None) != (key is None):
        given, missing = ("CERT", "KEY") if key is None else ("KEY", "CERT")
        raise ProvenanceError(f"BRIEFCRAFT_PROVENANCE_{given} is set but BRIEFCRAFT_PROVENANCE_{missing} is not; "
                              "set both, or neither to use the dev CA")
    if cert is not None and key is not None:
        return SignerFiles(cert, key)
    dev = _dev_ca_files(settings.provenance_dir)
    if not (dev.cert.is_file() and dev.key.is_file()) and create_dev_ca:
        dev = init_dev_ca(settings.provenance_dir, force=True)
    if not (dev.cert.is_file() and dev.key.is_file()):
        raise ProvenanceError(f"no signing certificate: run `briefcraft provenance init-dev-ca` (writes "
                              f"{settings.provenance_dir}) or set BRIEFCRAFT_PROVENANCE_CERT and "
                              "BRIEFCRAFT_PROVENANCE_KEY")
    return dev.signer


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ProvenanceError(f"cannot read {what} {path}: {error.strerror}") from error


def _algorithm(key_pem: bytes, path: Path) -> Any:  # a c2pa.C2paSigningAlg
    """The C2PA signing algorithm that fits the private key."""
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise ProvenanceError(f"{path} is not an unencrypted PEM private key") from error
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": c2pa.C2paSigningAlg.ES256, "secp384r1": c2pa.C2paSigningAlg.ES384,
                    "secp521r1": c2pa.C2paSigningAlg.ES512}
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        return c2pa.C2paSigningAlg.ED25519
    elif isinstance(key, rsa.RSAPrivateKey):
        return c2pa.C2paSigningAlg.PS256
    raise ProvenanceError(f"{path}: C2PA cannot sign with this key type; allowed: EC P-256/384/521, Ed25519, RSA")


@contextmanager
def _signer(files: SignerFiles) -> Iterator[Any]:  # yields a c2pa.Signer
    cert, key = _read(files.cert, "signing certificate"), _read(files.key, "signing key")
    info = c2pa.C2paSignerInfo(_algorithm(key, files.key), cert, key, None)
    try:
        signer = c2pa.Signer.from_info(info)
    except c2pa.C2paError as error:
        raise ProvenanceError(f"cannot sign with {files.cert} and {files.key}: {error}") from error
    with signer:
        yield signer


# --- stamping ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stamp:
    """What to say about an image, and which of the four marks to put on it.

    ``digital_source_type`` is one of ``DIGITAL_SOURCE_TYPES`` (full IPTC URIs). ``software_agent`` names the
    tool with its version, e.g. "briefcraft 0.1.0"; ``model`` what drew the picture ("layout renderer" or a
    diffusion model id). ``ingredient`` is the image this one was made from: with a composite type it is the
    picture placed on the canvas (C2PA ``componentOf``, actions created, placed, edited); otherwise the input of
    an image-to-image model (``inputTo``, referenced by the created action). ``watermark_payload`` (1 to
    ``WATERMARK_MAX_BYTES`` bytes of UTF-8, e.g. the first 8 hex digits of the asset's sha256) is what the
    invisible watermark carries. ``ai_label`` is drawn in ``label_corner`` when set.
    """

    title: str
    alt_text: str
    digital_source_type: str
    software_agent: str
    model: str
    ingredient: Path | None = None
    watermark: bool = True
    watermark_payload: str = ""
    ai_label: str | None = None
    label_corner: Corner = "top-right"
    watermark_method: WatermarkMethod = "dwtDct"

    def __post_init__(self) -> None:
        for name in ("title", "alt_text", "software_agent", "model"):
            if not getattr(self, name).strip():
                raise ProvenanceError(f"stamp {name} is empty; give the image's {name.replace('_', ' ')}")
        if self.digital_source_type not in DIGITAL_SOURCE_TYPES:
            raise ProvenanceError(f"digital_source_type {self.digital_source_type!r} is not supported; allowed: "
                                  + ", ".join(DIGITAL_SOURCE_TYPES))
        if self.watermark:
            size = len(self.watermark_payload.encode())
            if not 1 <= size <= WATERMARK_MAX_BYTES or "\0" in self.watermark_payload:
                raise ProvenanceError(f"watermark_payload {self.watermark_payload!r} is {size} bytes; allowed: 1 to "
                                      f"{WATERMARK_MAX_BYTES} bytes of UTF-8 without NUL, e.g. a short asset id")
        if self.ai_label is not None and not 1 <= len(self.ai_label.strip()) <= 40:
            raise ProvenanceError(f"ai_label {self.ai_label!r}: give 1 to 40 characters, e.g. 'AI-generated'")
        if self.watermark_method not in WATERMARK_METHODS:
            raise ProvenanceError(f"watermark_method {self.watermark_method!r} is not supported; "
                                  f"allowed: {', '.join(WATERMARK_METHODS)}")
        if self.label_corner not in LABEL_CORNERS:
            raise ProvenanceError(f"label_corner {self.label_corner!r} is not a corner; "
                                  f"allowed: {', '.join(LABEL_CORNERS)}")


class StampReport(BaseModel):
    """What ``stamp`` wrote."""

    path: str
    sha256: str = Field(description="Of the file as written, manifest included.")
    format: Literal["PNG", "JPEG"]
    width: int
    height: int
    digital_source_type: str
    actions: list[str] = Field(description="The C2PA actions, in order.")
    ingredient: str | None = Field(default=None, description="The ingredient's file name and relationship.")
    label_box: tuple[int, int, int, int] | None = Field(default=None, description="Where the visible label is.")
    watermark: str = Field(description="'embedded', 'off', 'skipped: ...', or 'unreadable: ...' when the payload "
                                       "did not read back from the written pixels.")
    signer: str = Field(description="The signing certificate's subject.")
    seconds: float


def _open_rgb(path: Path) -> Image.Image:
    """The image at ``path`` as RGB pixels (an alpha channel is dropped: finals are opaque)."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except OSError as error:
        raise ProvenanceError(f"cannot read image {path}: {error.strerror or error}") from error


def _draw_label(image: Image.Image, text: str, corner: Corner) -> tuple[int, int, int, int]:
    """Draw ``text`` on a solid panel in ``corner``; return the panel's box.

    The panel is black or white, whichever stands out more from the picture around it, and the text the other
    (21:1 contrast), so the label is legible on any picture.
    """
    short = min(image.size)
    font = ImageFont.load_default(size=max(10, round(short * 0.03)))
    assert isinstance(font, ImageFont.FreeTypeFont)  # Pillow's bundled default is a FreeType font
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = (round(v) for v in draw.textbbox((0, 0), text, font=font))
    pad, margin = max(3, round(font.size * 0.4)), max(2, round(short * 0.02))
    width, height = right - left + 2 * pad, bottom - top + 2 * pad
    x = margin if corner.endswith("left") else image.width - margin - width
    y = margin if corner.startswith("top") else image.height - margin - height
    box = (x, y, x + width, y + height)
    around = np.asarray(image.crop(box)).reshape(-1, 3).mean(axis=0)
    mean = (int(around[0]), int(around[1]), int(around[2]))
    black, white = (0, 0, 0), (255, 255, 255)
    panel = max((black, white), key=lambda colour: contrast_ratio(colour, mean))
    draw.rectangle(box, fill=panel)
    draw.text((x + pad - left, y + pad - top), text, font=font, fill=white if panel == black else black)
    return box


def _frame(payload: str) -> bytes:
    """The watermark's bits: the payload padded with NULs, then its CRC-32 (reads back as payload or nothing)."""
    body = payload.encode().ljust(WATERMARK_MAX_BYTES, b"\0")
    return body + zlib.crc32(body).to_bytes(4, "big")


def _bgr(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


# imwatermark is imported where used: it imports torch (over a second), which a stamp need not wait for until then.
@functools.cache
def _fast_max_dct() -> type:
    """imwatermark's ``dwtDct`` embedder with its two per-block Python loops done as array operations.

    Its YUV conversion, Haar transform and reconstruction stay imwatermark's own; only ``encode_frame`` and
    ``decode_frame`` are replaced, with the same arithmetic on every 4x4 block of the approximation band at once:
    the same pixels and the same bits (tests/test_provenance.py compares them with imwatermark's); embedding a
    1080x1080 final takes about a quarter of the time, reading one back about a sixth (docs/BENCHMARKS.md).
    """
    from imwatermark.maxDct import EmbedMaxDct  # type: ignore[import-untyped]

    class FastMaxDct(EmbedMaxDct):  # type: ignore[misc]
        def _blocks(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            """Each whole block's 16 coefficients in imwatermark's order (row by row), the position of the largest
            one in size after the first, its value, and the watermark bit index each block carries."""
            size = self._block
            rows, cols = frame.shape[0] // size, frame.shape[1] // size
            blocks = (frame[:rows * size, :cols * size].reshape(rows, size, cols, size).swapaxes(1, 2)
                      .reshape(rows * cols, size * size))
            positions = np.abs(blocks[:, 1:]).argmax(axis=1) + 1
            values = blocks[np.arange(len(blocks)), positions]
            return blocks, positions, values, np.arange(len(blocks)) % self._wmLen

        def encode_frame(self, frame: np.ndarray, scale: float) -> None:
            size = self._block
            blocks, positions, values, index = self._blocks(frame)
            bits = np.asarray(self._watermarks, dtype=np.float64)[index]
            quantized = (np.abs(values) // scale + 0.25 + 0.5 * bits) * scale
            blocks[np.arange(len(blocks)), positions] = np.where(values >= 0.0, quantized, -quantized)
            rows, cols = frame.shape[0] // size, frame.shape[1] // size
            frame[:rows * size, :cols * size] = (
                blocks.reshape(rows, cols, size, size).swapaxes(1, 2).reshape(rows * size, cols * size))

        def decode_frame(self, frame: np.ndarray, scale: float, scores: list[Any]) -> list[Any]:
            _, _, values, index = self._blocks(frame)
            found = (np.abs(values) % scale > 0.5 * scale).astype(np.float64)
            return [np.concatenate([np.asarray(scores[bit], dtype=np.float64), found[index == bit]])
                    for bit in range(self._wmLen)]

    return FastMaxDct


def _embed_watermark(image: Image.Image, payload: str, method: WatermarkMethod) -> Image.Image:
    if method == "dwtDct":
        bits = np.unpackbits(np.frombuffer(_frame(payload), dtype=np.uint8))  # as imwatermark's set_by_bytes
        marked = _fast_max_dct()(watermarks=bits, wmLen=len(bits)).encode(_bgr(image))
    else:
        from imwatermark import WatermarkEncoder  # type: ignore[import-untyped]

        encoder = WatermarkEncoder()
        encoder.set_watermark("bytes", _frame(payload))
        marked = encoder.encode(_bgr(image), method)
    return Image.fromarray(np.ascontiguousarray(marked[:, :, ::-1]))


def _read_watermark(image: Image.Image, methods: tuple[WatermarkMethod, ...] = WATERMARK_METHODS) -> str | None:
    """The payload of our watermark in ``image`` (by the first of ``methods`` that finds one), or None."""
    from imwatermark import WatermarkDecoder

    pixels = _bgr(image)
    length = (WATERMARK_MAX_BYTES + 4) * 8
    for method in methods:
        decoder = WatermarkDecoder("bytes", length)
        if method == "dwtDct":
            decoded = decoder.reconstruct(_fast_max_dct()(watermarks=[], wmLen=length).decode(pixels))
        else:
            decoded = decoder.decode(pixels, method)
        body, crc = decoded[:WATERMARK_MAX_BYTES], decoded[WATERMARK_MAX_BYTES:]
        if zlib.crc32(body).to_bytes(4, "big") != crc:
            continue
        try:
            return str(body.rstrip(b"\0").decode())
        except UnicodeDecodeError:
            continue
    return None


def _xmp(stamp: Stamp) -> bytes:
    """An XMP packet with the IPTC digital source type, title, description and alt text."""
    def alt(text: str) -> str:
        return f'<rdf:Alt><rdf:li xml:lang="x-default">{escape(text)}</rdf:li></rdf:Alt>'

    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        f"<Iptc4xmpExt:DigitalSourceType>{escape(stamp.digital_source_type)}</Iptc4xmpExt:DigitalSourceType>"
        f"<dc:title>{alt(stamp.title)}</dc:title>"
        f"<dc:description>{alt(stamp.alt_text)}</dc:description>"
        f"<Iptc4xmpCore:AltTextAccessibility>{alt(stamp.alt_text)}</Iptc4xmpCore:AltTextAccessibility>"
        f"<xmp:CreatorTool>{escape(stamp.software_agent)}</xmp:CreatorTool>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _encode(image: Image.Image, image_format: str, xmp: bytes) -> bytes:
    buffer = io.BytesIO()
    if image_format == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode())
        image.save(buffer, format="PNG", pnginfo=info)
    else:
        image.save(buffer, format="JPEG", xmp=xmp, **_JPEG_OPTIONS)
    return buffer.getvalue()


def _agent(software_agent: str) -> dict[str, str]:
    """'briefcraft 0.1.0' as C2PA's {name, version}; a name without a trailing version stays whole."""
    name, _, version = software_agent.strip().rpartition(" ")
    return {"name": name, "version": version} if name and version[:1].isdigit() else {"name": software_agent}


def _manifest(stamp: Stamp, *, with_ingredient: bool) -> dict[str, Any]:
    """The manifest definition: a created action, then for a composite the ingredient placed and edited."""
    created: dict[str, Any] = {
        "action": "c2pa.created", "digitalSourceType": stamp.digital_source_type,
        "softwareAgent": _agent(stamp.software_agent), "description": f"model: {stamp.model}",
        "parameters": {"model": stamp.model},
    }
    actions = [created]
    if with_ingredient and stamp.digital_source_type in _COMPOSITES:
        actions += [
            {"action": "c2pa.placed", "parameters": {"ingredientIds": [_INGREDIENT]},
             "softwareAgent": _agent(stamp.software_agent)},
            {"action": "c2pa.edited", "description": "copy, logo and labels set on the placed picture",
             "softwareAgent": _agent(stamp.software_agent)},
        ]
    elif with_ingredient:
        created["parameters"]["ingredientIds"] = [_INGREDIENT]
    return {
        "claim_generator_info": [{"name": "briefcraft", "version": __version__}],
        "title": stamp.title,
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": actions}}],
    }


def _sniff(data: bytes) -> str | None:
    """The image format from its first bytes (PNG, JPEG or WEBP), without decoding it."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def stamp(path_in: Path, path_out: Path, *, stamp: Stamp, signer: SignerFiles) -> StampReport:
    """Label, watermark, describe (XMP) and sign (C2PA) the image at ``path_in``, writing ``path_out``.

    ``path_out``'s suffix picks the format: .png, or .jpg/.jpeg (quality 95, no chroma subsampling). The file
    appears complete or not at all. The watermark is skipped below 256x256 pixels (imwatermark's minimum), and
    reported 'unreadable' when its payload does not read back from the written pixels (dwtDct is weak on smooth
    pictures). Raises ``ProvenanceError`` for an unreadable input or ingredient, an unsupported suffix or an
    unusable signing certificate.
    """
    started = time.perf_counter()
    out_format = _SUFFIXES.get(path_out.suffix.lower())
    if out_format is None:
        raise ProvenanceError(f"cannot stamp {path_out.name}: suffix {path_out.suffix!r} is not supported; "
                              "allowed: .png, .jpg, .jpeg")
    ingredient: tuple[dict[str, str], str, bytes] | None = None  # its definition, MIME type and bytes
    if stamp.ingredient is not None:
        data = _read(stamp.ingredient, "ingredient")
        if (ingredient_format := _sniff(data)) is None:
            raise ProvenanceError(f"ingredient {stamp.ingredient} is not a PNG, JPEG or WebP image")
        relationship = "componentOf" if stamp.digital_source_type in _COMPOSITES else "inputTo"
        definition = {"title": stamp.ingredient.name, "relationship": relationship, "label": _INGREDIENT}
        ingredient = (definition, _FORMATS[ingredient_format], data)
    manifest = _manifest(stamp, with_ingredient=ingredient is not None)

    image = _open_rgb(path_in)
    label_box = _draw_label(image, stamp.ai_label, stamp.label_corner) if stamp.ai_label else None
    if not stamp.watermark:
        watermark = "off"
    elif image.width * image.height < _WATERMARK_MIN_PIXELS:
        watermark = _WATERMARK_SKIPPED
    elif importlib.util.find_spec("imwatermark") is None:
        watermark = "not embedded: invisible-watermark is not installed (pip install 'briefcraft[provenance]')"
    else:
        image, watermark = _embed_watermark(image, stamp.watermark_payload, stamp.watermark_method), "embedded"
    unsigned = _encode(image, out_format, _xmp(stamp))
    if watermark == "embedded":  # read back from what a reader will get: these pixels (PNG is lossless) or our JPEG
        if out_format == "PNG":
            payload = _read_watermark(image, (stamp.watermark_method,))
        else:
            with Image.open(io.BytesIO(unsigned)) as written:
                payload = _read_watermark(written, (stamp.watermark_method,))
        if payload != stamp.watermark_payload:
            watermark = "unreadable: embedded, but it does not read back from these pixels"

    path_out.parent.mkdir(parents=True, exist_ok=True)
    partial = part_path(path_out)
    try:
        with (_signer(signer) as c2pa_signer, c2pa.Context.from_dict(_SIGN_SETTINGS) as context,
              c2pa.Builder(manifest, context=context) as builder):
            if ingredient is not None:
                builder.add_ingredient(ingredient[0], ingredient[1], io.BytesIO(ingredient[2]))
            with partial.open("w+b") as out:
                builder.sign(c2pa_signer, _FORMATS[out_format], io.BytesIO(unsigned), out)
        partial.replace(path_out)
    except c2pa.C2paError as error:
        raise ProvenanceError(f"signing {path_out.name} failed: {error}") from error
    finally:
        partial.unlink(missing_ok=True)
    return StampReport(
        path=str(path_out), sha256=hashlib.sha256(path_out.read_bytes()).hexdigest(), format=out_format,
        width=image.width, height=image.height, digital_source_type=stamp.digital_source_type,
        actions=[a["action"] for a in manifest["assertions"][0]["data"]["actions"]],
        ingredient=f"{ingredient[0]['title']} ({ingredient[0]['relationship']})" if ingredient else None,
        label_box=label_box, watermark=watermark, signer=_subject(signer.cert),
        seconds=round(time.perf_counter() - started, 3),
    )


def _subject(cert: Path) -> str:
    return x509.load_pem_x509_certificate(_read(cert, "signing certificate")).subject.rfc4514_string()


# --- verifying -----------------------------------------------------------------------------------------


class XmpFields(BaseModel):
    """The provenance fields of an image's XMP packet (None where absent)."""

    digital_source_type: str | None = None
    title: str | None = None
    description: str | None = None
    alt_text: str | None = None
    creator_tool: str | None = None


class ValidationIssue(BaseModel):
    """One C2PA validation status: its code and the validator's explanation."""

    code: str
    explanation: str = ""


class IngredientInfo(BaseModel):
    """An ingredient of the active manifest."""

    title: str
    relationship: str
    format: str | None = None


class VerifyReport(BaseModel):
    """What an image says about its provenance, and whether its C2PA manifest validates."""

    path: str
    format: str
    trust_anchor: str | None = Field(default=None, description="The root certificate trusted, if one was given.")
    width: int | None = None
    height: int | None = None
    has_manifest: bool
    validation_state: str | None = Field(
        default=None, description="'Trusted' (chains to a trust anchor), 'Valid' (intact, signer not trusted), "
                                  "'Invalid'; None without a manifest.",
    )
    errors: list[ValidationIssue] = Field(default_factory=list, description="Validation failures, e.g. "
                                                                            "signingCredential.untrusted.")
    title: str | None = None
    claim_generator: str | None = None
    signer: str | None = Field(default=None, description="The signing certificate's common name and issuer.")
    actions: list[str] = Field(default_factory=list)
    digital_source_type: str | None = Field(default=None, description="Of the c2pa.created action.")
    software_agent: str | None = None
    model: str | None = None
    ingredients: list[IngredientInfo] = Field(default_factory=list)
    xmp: XmpFields = Field(default_factory=XmpFields)
    watermark: str | None = Field(default=None, description="The watermark's payload, when one reads back.")
    watermark_status: str = Field(description="'found', 'not found', or 'not checked: ...'.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verified(self) -> bool:
        """The manifest is intact and, when a trust anchor was given, chains to it (or to one the SDK trusts)."""
        return self.validation_state == "Trusted" or (self.validation_state == "Valid" and not self.trust_anchor)


def _trust(trust: Path | None) -> tuple[str, str] | None:
    """The trust anchor's name and PEM text, checked to hold certificates."""
    if trust is None:
        return None
    data = _read(trust, "trust anchor")
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError as error:
        raise ProvenanceError(f"trust anchor {trust} is not a PEM certificate") from error
    return str(trust), data.decode()


def _xmp_fields(image: Image.Image) -> XmpFields:
    packet = image.info.get("xmp")
    if not packet:
        return XmpFields()
    try:
        root = ElementTree.fromstring(packet)
    except ElementTree.ParseError:
        return XmpFields()
    ns = {"dc": "http://purl.org/dc/elements/1.1/", "xmp": "http://ns.adobe.com/xap/1.0/",
          "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
          "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
          "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"}

    def text(path: str) -> str | None:
        found = root.find(f".//{path}", ns)
        return found.text if found is not None else None

    return XmpFields(
        digital_source_type=text("Iptc4xmpExt:DigitalSourceType"), title=text("dc:title/rdf:Alt/rdf:li"),
        description=text("dc:description/rdf:Alt/rdf:li"),
        alt_text=text("Iptc4xmpCore:AltTextAccessibility/rdf:Alt/rdf:li"), creator_tool=text("xmp:CreatorTool"),
    )


def _manifest_fields(active: dict[str, Any]) -> dict[str, Any]:
    """The report's fields from the active manifest (as c2pa's Reader gives it)."""
    actions = [a for assertion in active.get("assertions", []) if assertion.get("label", "").startswith("c2pa.actions")
               for a in assertion.get("data", {}).get("actions", [])]
    created: dict[str, Any] = next((a for a in actions if a.get("action") == "c2pa.created"), {})
    agent = created.get("softwareAgent")
    if isinstance(agent, dict):
        agent = " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k))
    generator: dict[str, Any] = next(iter(active.get("claim_generator_info") or []), {})
    signature = active.get("signature_info") or {}
    return {
        "title": active.get("title"),
        "claim_generator": " ".join(str(generator[k]) for k in ("name", "version") if generator.get(k)) or None,
        "signer": f"{signature.get('common_name')} (issuer: {signature.get('issuer')})" if signature else None,
        "actions": [str(a.get("action")) for a in actions],
        "digital_source_type": created.get("digitalSourceType"),
        "software_agent": agent,
        "model": (created.get("parameters") or {}).get("model"),
        "ingredients": [IngredientInfo(title=i.get("title", ""), relationship=i.get("relationship", ""),
                                       format=i.get("format")) for i in active.get("ingredients", [])],
    }


def _inspect(data: bytes, name: str, trust: tuple[str, str] | None) -> VerifyReport:
    """Verify an image held in memory; ``name`` is what the report calls it, ``trust`` an anchor's name and PEM."""
    image_format = _sniff(data)
    if image_format is None:
        raise ProvenanceError(f"{name} is not a PNG, JPEG or WebP image")
    settings: dict[str, Any] = dict(_READ_SETTINGS)
    if trust is not None:
        settings["trust"] = {"user_anchors": trust[1]}
    fields: dict[str, Any] = {"has_manifest": False}
    try:
        with c2pa.Context.from_dict(settings) as context:
            reader = c2pa.Reader.try_create(_FORMATS[image_format], io.BytesIO(data), None, context)
            if reader is not None:
                with reader:
                    store = reader.get_active_manifest() or {}
                    results = (reader.get_validation_results() or {}).get("activeManifest") or {}
                    fields = {"has_manifest": True, "validation_state": reader.get_validation_state(),
                              "errors": [ValidationIssue(code=f["code"], explanation=f.get("explanation", ""))
                                         for f in results.get("failure", [])],
                              **_manifest_fields(store)}
    except c2pa.C2paError as error:
        # A manifest store so damaged that it cannot be parsed is a manifest that does not validate.
        fields = {"has_manifest": True, "validation_state": "Invalid",
                  "errors": [ValidationIssue(code="manifest.unreadable", explanation=str(error))]}
    size: tuple[int | None, int | None]
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            xmp, size = _xmp_fields(image), image.size
            if image.width * image.height < _WATERMARK_MIN_PIXELS:
                payload, status = None, "not checked: image smaller than 256x256"
            elif importlib.util.find_spec("imwatermark") is None:
                payload, status = None, "not checked: invisible-watermark is not installed"
            else:
                payload = _read_watermark(image)
                status = "found" if payload is not None else "not found"
    except (OSError, SyntaxError) as error:  # Pillow raises SyntaxError for broken PNG chunks
        xmp, size, payload, status = XmpFields(), (None, None), None, f"not checked: pixels unreadable ({error})"
    return VerifyReport(path=name, format=image_format, trust_anchor=trust[0] if trust else None, width=size[0],
                        height=size[1], xmp=xmp, watermark=payload, watermark_status=status, **fields)


def verify(path: Path, *, trust: Path | None = None) -> VerifyReport:
    """Read the image's C2PA manifest (validated, against ``trust`` as an extra root when given), XMP and watermark.

    Raises ``ProvenanceError`` when the file cannot be read or is no PNG, JPEG or WebP image.
    """
    return _inspect(_read(path, "image"), str(path), _trust(trust))


# --- survival ------------------------------------------------------------------------------------------


class SurvivalVariant(BaseModel):
    """One re-encoding of the image, and which provenance marks it kept (compared with the original)."""

    name: str
    width: int
    height: int
    bytes: int
    c2pa: bool = Field(description="A C2PA manifest is still there.")
    c2pa_state: str | None = Field(description="Its validation state.")
    digital_source_type: bool = Field(description="XMP Iptc4xmpExt:DigitalSourceType still equals the original's.")
    alt_text: bool = Field(description="XMP alt text still equals the original's.")
    watermark: bool | None = Field(description="The watermark still reads the original's payload (None: the "
                                               "original has none).")


class SurvivalReport(BaseModel):
    """How the image's provenance fares when platforms re-encode it (Pillow, metadata dropped)."""

    path: str
    variants: list[SurvivalVariant] = Field(description="'original' first, then each re-encoding.")


#: The re-encodings measured, as (resize to 1080 px wide, save as JPEG quality 85 rather than lossless PNG).
_VARIANTS = {"jpeg-q85": (False, True), "resize-1080w": (True, False), "resize-1080w+jpeg-q85": (True, True)}


def _reencode(data: bytes, *, resize: bool, jpeg: bool) -> bytes:
    """``data`` re-encoded as a platform would: pixels only, no metadata."""
    with Image.open(io.BytesIO(data)) as source:
        image = source.convert("RGB")
    if resize:
        image = image.resize((1080, max(1, round(image.height * 1080 / image.width))), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if jpeg:
        image.save(buffer, format="JPEG", quality=85)  # and Pillow's 4:2:0 chroma subsampling, like platforms
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


def survival_report(path: Path, *, trust: Path | None = None) -> SurvivalReport:
    """Re-encode the image as platforms do and say which provenance marks survive each re-encoding."""
    data, anchor = _read(path, "image"), _trust(trust)
    original = _inspect(data, str(path), anchor)
    variants = []
    encodings = [(name, _reencode(data, resize=resize, jpeg=jpeg)) for name, (resize, jpeg) in _VARIANTS.items()]
    for name, variant in [("original", data), *encodings]:
        report = original if name == "original" else _inspect(variant, name, anchor)
        variants.append(SurvivalVariant(
            name=name, width=report.width or 0, height=report.height or 0, bytes=len(variant),
            c2pa=report.has_manifest, c2pa_state=report.validation_state,
            digital_source_type=report.xmp.digital_source_type is not None
            and report.xmp.digital_source_type == original.xmp.digital_source_type,
            alt_text=report.xmp.alt_text is not None and report.xmp.alt_text == original.xmp.alt_text,
            watermark=None if original.watermark is None else report.watermark == original.watermark,
        ))
    return SurvivalReport(path=str(path), variants=variants)
