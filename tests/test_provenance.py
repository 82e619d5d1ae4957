"""Provenance: the dev CA, stamping (label, watermark, XMP, C2PA), verifying, survival, and the CLI.

Everything is real: certificates from cryptography, signing and validation by c2pa, watermarks by imwatermark,
on layout renders (what the offline pipeline makes). One CA and one stamped PNG and JPEG serve the module.
"""

from __future__ import annotations

import dataclasses
import json
import stat
import zlib
from pathlib import Path

import numpy as np
import pytest
from builders import load_script
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from PIL import Image

from briefcraft.errors import ProvenanceError
from briefcraft.settings import Settings
from briefcraft.tools.provenance import (
    COMPOSITE,
    TRAINED,
    DevCA,
    IngredientInfo,
    Stamp,
    StampReport,
    XmpFields,
    init_dev_ca,
    signer_files,
    stamp,
    survival_report,
    verify,
)
from briefcraft.tools.render import LayoutRenderer, RenderSpec
from briefcraft.ui.cli import main

PALETTE = ("#1F3A5F", "#F4E9D8", "#E8A33D")
STAMP = Stamp(
    title="Spring launch tile", alt_text="Navy tile with the headline Fresh roast, every morning",
    digital_source_type=COMPOSITE, software_agent="briefcraft 0.1.0", model="stabilityai/sdxl-base-1.0",
    watermark_payload="a1b2c3d4",
)
UNTRUSTED = ["signingCredential.untrusted"]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the picture (the ingredient) and the final it became, both 512x512 layout renders."""
    folder = tmp_path_factory.mktemp("provenance")
    LayoutRenderer().render(RenderSpec(512, 512, PALETTE, seed=3)).image.save(folder / "picture.png")
    LayoutRenderer().render(RenderSpec(512, 512, PALETTE[::-1], seed=5)).image.save(folder / "final.png")
    return folder


@pytest.fixture(scope="module")
def ca(work: Path) -> DevCA:
    return init_dev_ca(work / "ca")


@pytest.fixture(scope="module")
def png(work: Path, ca: DevCA) -> tuple[Path, StampReport]:
    """The final stamped as PNG, a composite with its picture as ingredient."""
    out = work / "stamped.png"
    return out, stamp(work / "final.png", out, stamp=dataclasses.replace(STAMP, ingredient=work / "picture.png"),
                      signer=ca.signer)


@pytest.fixture(scope="module")
def jpeg(work: Path, ca: DevCA) -> tuple[Path, StampReport]:
    """The picture stamped as JPEG, as it came out of the model."""
    out = work / "stamped.jpg"
    return out, stamp(work / "picture.png", out, stamp=dataclasses.replace(STAMP, digital_source_type=TRAINED),
                      signer=ca.signer)


def test_dev_ca_is_a_root_and_a_signing_leaf_and_is_not_overwritten(tmp_path: Path) -> None:
    ca = init_dev_ca(tmp_path / "ca")
    assert (ca.root.name, ca.cert.name, ca.key.name) == ("root.pem", "signer.pem", "signer.key")
    assert stat.S_IMODE(ca.key.stat().st_mode) == 0o600
    leaf, root = x509.load_pem_x509_certificates(ca.cert.read_bytes())
    assert root == x509.load_pem_x509_certificate(ca.root.read_bytes())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert leaf.issuer == root.subject
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert (usage.critical, usage.value.digital_signature, usage.value.key_cert_sign) == (True, True, False)
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.EMAIL_PROTECTION]

    with pytest.raises(ProvenanceError) as refused:
        init_dev_ca(tmp_path / "ca")
    assert str(refused.value) == (f"a dev CA already exists in {tmp_path / 'ca'}; "
                                  "replace it with `briefcraft provenance init-dev-ca --force`")
    first_root = ca.root.read_bytes()
    assert init_dev_ca(tmp_path / "ca", force=True).root.read_bytes() != first_root


def test_signer_comes_from_settings_else_the_dev_ca(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    with pytest.raises(ProvenanceError) as missing:
        signer_files(settings)
    assert str(missing.value) == (
        f"no signing certificate: run `briefcraft provenance init-dev-ca` (writes {tmp_path / 'data' / 'provenance'}) "
        "or set BRIEFCRAFT_PROVENANCE_CERT and BRIEFCRAFT_PROVENANCE_KEY")
    ca = init_dev_ca(settings.provenance_dir)
    assert signer_files(settings) == ca.signer
    own = settings.model_copy(update={"provenance_cert": tmp_path / "c.pem", "provenance_key": tmp_path / "k.pem"})
    assert (signer_files(own).cert, signer_files(own).key) == (tmp_path / "c.pem", tmp_path / "k.pem")
    with pytest.raises(ProvenanceError) as half:
        signer_files(settings.model_copy(update={"provenance_cert": tmp_path / "c.pem"}))
    assert str(half.value) == ("BRIEFCRAFT_PROVENANCE_CERT is set but BRIEFCRAFT_PROVENANCE_KEY is not; "
                               "set both, or neither to use the dev CA")


def test_png_composite_validates_untrusted_then_trusted_with_its_root(png: tuple[Path, StampReport], ca: DevCA
                                                                      ) -> None:
    path, report = png
    assert (report.format, report.width, report.height, report.watermark) == ("PNG", 512, 512, "embedded")
    assert report.actions == ["c2pa.created", "c2pa.placed", "c2pa.edited"]
    assert report.ingredient == "picture.png (componentOf)"
    assert report.signer == "O=briefcraft development CA (not publicly trusted),CN=briefcraft dev signer"

    untrusted = verify(path)
    assert (untrusted.has_manifest, untrusted.validation_state, untrusted.verified) == (True, "Valid", True)
    assert [e.code for e in untrusted.errors] == UNTRUSTED
    trusted = verify(path, trust=ca.root)
    assert (trusted.validation_state, trusted.errors, trusted.verified) == ("Trusted", [], True)
    assert trusted.actions == ["c2pa.created", "c2pa.placed", "c2pa.edited"]
    assert (trusted.digital_source_type, trusted.software_agent, trusted.model) == (
        COMPOSITE, "briefcraft 0.1.0", "stabilityai/sdxl-base-1.0")
    assert (trusted.title, trusted.claim_generator) == ("Spring launch tile", "briefcraft 0.1.0")
    assert trusted.ingredients == [IngredientInfo(title="picture.png", relationship="componentOf",
                                                  format="image/png")]
    assert trusted.xmp == XmpFields(
        digital_source_type=COMPOSITE, title="Spring launch tile", creator_tool="briefcraft 0.1.0",
        description="Navy tile with the headline Fresh roast, every morning",
        alt_text="Navy tile with the headline Fresh roast, every morning",
    )
    assert (trusted.watermark, trusted.watermark_status) == ("a1b2c3d4", "found")


def test_jpeg_validates_and_keeps_xmp_and_watermark(jpeg: tuple[Path, StampReport], ca: DevCA) -> None:
    path, report = jpeg
    assert (report.format, report.actions, report.ingredient, report.watermark) == (
        "JPEG", ["c2pa.created"], None, "embedded")
    assert Image.open(path).format == "JPEG"
    assert [e.code for e in verify(path).errors] == UNTRUSTED
    trusted = verify(path, trust=ca.root)
    assert (trusted.validation_state, trusted.errors, trusted.digital_source_type) == ("Trusted", [], TRAINED)
    assert (trusted.xmp.digital_source_type, trusted.xmp.alt_text) == (TRAINED, STAMP.alt_text)
    assert trusted.watermark == "a1b2c3d4"


def test_image_to_image_source_is_an_input_of_the_created_action(work: Path, ca: DevCA) -> None:
    refined = dataclasses.replace(STAMP, digital_source_type=TRAINED, ingredient=work / "picture.png",
                                  watermark=False)
    report = stamp(work / "final.png", work / "refined.png", stamp=refined, signer=ca.signer)
    assert (report.actions, report.ingredient, report.watermark) == (["c2pa.created"], "picture.png (inputTo)", "off")
    read = verify(work / "refined.png", trust=ca.root)
    assert (read.validation_state, read.ingredients) == (
        "Trusted", [IngredientInfo(title="picture.png", relationship="inputTo", format="image/png")])
    assert (read.watermark, read.watermark_status) == (None, "not found")


def test_one_changed_byte_fails_validation(jpeg: tuple[Path, StampReport], ca: DevCA, tmp_path: Path) -> None:
    data = bytearray(jpeg[0].read_bytes())
    data[len(data) // 2] ^= 0x01
    (tampered := tmp_path / "tampered.jpg").write_bytes(bytes(data))
    report = verify(tampered, trust=ca.root)
    assert (report.has_manifest, report.validation_state, report.verified) == (True, "Invalid", False)
    assert [e.code for e in report.errors] == ["assertion.dataHash.mismatch"]


def test_small_image_is_signed_without_watermark(work: Path, ca: DevCA) -> None:
    Image.new("RGB", (200, 200), "#1F3A5F").save(work / "small.png")
    report = stamp(work / "small.png", work / "small-stamped.png", stamp=STAMP, signer=ca.signer)
    assert report.watermark == "skipped: image smaller than 256x256"
    read = verify(work / "small-stamped.png", trust=ca.root)
    assert (read.validation_state, read.watermark, read.watermark_status) == (
        "Trusted", None, "not checked: image smaller than 256x256")


def _pictures(folder: Path) -> list[Path]:
    """Pictures whose sizes are not multiples of the watermark's blocks: a layout render, noise, a gradient."""
    rng = np.random.default_rng(7)
    gradient = np.zeros((701, 530, 3), np.uint8)
    gradient[..., 0], gradient[..., 1] = np.arange(530) % 256, (np.arange(701) % 256)[:, None]
    pictures = {"layout.png": LayoutRenderer().render(RenderSpec(643, 482, PALETTE, seed=11)).image,
                "noise.png": Image.fromarray(rng.integers(40, 216, (517, 601, 3), dtype=np.uint8)),
                "gradient.png": Image.fromarray(gradient)}
    for name, picture in pictures.items():
        picture.save(folder / name)
    return [folder / name for name in pictures]


def test_dwtdct_watermark_is_imwatermarks_to_the_pixel(tmp_path: Path, ca: DevCA) -> None:
    """Our array version of imwatermark's dwtDct loops writes the very pixels imwatermark's encoder writes, and its
    reader agrees with imwatermark's decoder bit for bit, on marked, unmarked and JPEG-compressed pictures."""
    from imwatermark import WatermarkDecoder, WatermarkEncoder

    from briefcraft.tools.provenance import _fast_max_dct

    encoder = WatermarkEncoder()
    encoder.set_watermark("bytes", b"a1b2c3d4".ljust(8, b"\0") + zlib.crc32(b"a1b2c3d4").to_bytes(4, "big"))
    read = {}
    for picture in _pictures(tmp_path):
        report = stamp(picture, tmp_path / f"stamped-{picture.name}", stamp=STAMP, signer=ca.signer)
        stamped = np.asarray(Image.open(report.path).convert("RGB"))
        reference = encoder.encode(np.ascontiguousarray(np.asarray(Image.open(picture))[:, :, ::-1]), "dwtDct")
        assert np.array_equal(stamped, reference[:, :, ::-1])
        Image.fromarray(stamped).save(jpeg := tmp_path / f"{picture.stem}.jpg", quality=70)
        for probe in (stamped, np.asarray(Image.open(picture)), np.asarray(Image.open(jpeg))):
            bgr = np.ascontiguousarray(probe[:, :, ::-1])
            ours = _fast_max_dct()(watermarks=[], wmLen=96).decode(bgr)
            assert np.array_equal(ours, WatermarkDecoder("bits", 96).decode(bgr, "dwtDct"))
        read[picture.name] = (report.watermark, verify(Path(report.path), trust=ca.root).watermark)
    unreadable = "unreadable: embedded, but it does not read back from these pixels"
    assert read == {"layout.png": ("embedded", "a1b2c3d4"), "noise.png": ("embedded", "a1b2c3d4"),
                    "gradient.png": (unreadable, None)}  # dwtDct is weak on smooth pictures, and stamp says so


def test_visible_label_changes_only_its_corner(work: Path, ca: DevCA) -> None:
    plain = dataclasses.replace(STAMP, watermark=False)
    stamp(work / "final.png", work / "plain.png", stamp=plain, signer=ca.signer)
    report = stamp(work / "final.png", work / "labelled.png", stamp=dataclasses.replace(plain, ai_label="AI-generated"),
                   signer=ca.signer)
    assert report.label_box == (404, 10, 502, 36)
    before, after = (np.asarray(Image.open(work / name).convert("RGB")) for name in ("plain.png", "labelled.png"))
    changed = np.argwhere((before != after).any(axis=2))
    assert (changed.min(axis=0).tolist(), changed.max(axis=0).tolist()) == ([10, 404], [36, 502])
    assert after[10, 404].tolist() == [0, 0, 0]  # the corner is orange (#E8A33D): a black panel stands out there
    assert Image.open(work / "labelled.png").info["XML:com.adobe.xmp"].count("Spring launch tile") == 1


@pytest.mark.parametrize(("change", "message"), [
    ({"digital_source_type": "trainedAlgorithmicMedia"},
     "digital_source_type 'trainedAlgorithmicMedia' is not supported; allowed: "
     "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia, "
     "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia, "
     "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia, "
     "http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic"),
    ({"watermark_payload": "img-instagram-1"},
     "watermark_payload 'img-instagram-1' is 15 bytes; allowed: 1 to 8 bytes of UTF-8 without NUL, e.g. a short "
     "asset id"),
    ({"alt_text": " "}, "stamp alt_text is empty; give the image's alt text"),
    ({"ai_label": ""}, "ai_label '': give 1 to 40 characters, e.g. 'AI-generated'"),
])
def test_bad_stamp_is_refused_naming_the_field(change: dict[str, str], message: str) -> None:
    with pytest.raises(ProvenanceError) as refused:
        dataclasses.replace(STAMP, **change)
    assert str(refused.value) == message


def test_unsupported_output_and_unreadable_input_are_refused(work: Path, ca: DevCA) -> None:
    with pytest.raises(ProvenanceError) as suffix:
        stamp(work / "final.png", work / "final.gif", stamp=STAMP, signer=ca.signer)
    assert str(suffix.value) == "cannot stamp final.gif: suffix '.gif' is not supported; allowed: .png, .jpg, .jpeg"
    with pytest.raises(ProvenanceError) as missing:
        stamp(work / "absent.png", work / "out.png", stamp=STAMP, signer=ca.signer)
    assert str(missing.value) == f"cannot read image {work / 'absent.png'}: No such file or directory"
    assert not (work / "out.png").exists()


def test_survival_as_measured(png: tuple[Path, StampReport], ca: DevCA) -> None:
    report = survival_report(png[0], trust=ca.root)
    rows = [(v.name, v.width, v.height, v.c2pa, v.c2pa_state, v.digital_source_type, v.alt_text, v.watermark)
            for v in report.variants]
    assert rows == [
        ("original", 512, 512, True, "Trusted", True, True, True),
        ("jpeg-q85", 512, 512, False, None, False, False, False),
        ("resize-1080w", 1080, 1080, False, None, False, False, False),
        ("resize-1080w+jpeg-q85", 1080, 1080, False, None, False, False, False),
    ]


def test_cli_verify_exit_codes_and_output(png: tuple[Path, StampReport], jpeg: tuple[Path, StampReport], ca: DevCA,
                                          work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(png[0])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{png[0]}: C2PA manifest Valid (verified)"
    assert "  failure: signingCredential.untrusted: signing certificate untrusted" in lines
    assert lines[-4:] == ["  XMP digital source type: compositeWithTrainedAlgorithmicMedia",
                          "  XMP title: Spring launch tile",
                          f"  XMP alt text: {STAMP.alt_text}", "  watermark: a1b2c3d4"]

    assert main(["verify", str(jpeg[0]), "--trust", str(ca.root), "--json"]) == 0
    read = json.loads(capsys.readouterr().out)
    assert (read["validation_state"], read["verified"], read["errors"]) == ("Trusted", True, [])

    other = init_dev_ca(tmp_path / "other")
    assert main(["verify", str(png[0]), "--trust", str(other.root)]) == 4  # intact, but not from that root
    assert capsys.readouterr().out.splitlines()[0] == f"{png[0]}: C2PA manifest Valid (NOT verified)"

    assert main(["verify", str(work / "picture.png")]) == 4
    assert capsys.readouterr().out.splitlines()[0] == f"{work / 'picture.png'}: no C2PA manifest"

    data = bytearray(jpeg[0].read_bytes())
    data[len(data) // 2] ^= 0x01
    (tampered := tmp_path / "tampered.jpg").write_bytes(bytes(data))
    assert main(["verify", str(tampered)]) == 4
    assert capsys.readouterr().out.splitlines()[0] == f"{tampered}: C2PA manifest Invalid (NOT verified)"

    for argv, error in [
        (["verify", str(tmp_path / "absent.png")], f"cannot read image {tmp_path / 'absent.png'}: No such file or "
                                                    "directory"),
        (["verify", str(ca.key)], f"{ca.key} is not a PNG, JPEG or WebP image"),
        (["verify", str(png[0]), "--trust", str(png[0])], f"trust anchor {png[0]} is not a PEM certificate"),
    ]:
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert (captured.out, captured.err) == ("", f"briefcraft: error: {error}\n")


def test_cli_verify_survival(jpeg: tuple[Path, StampReport], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(jpeg[0]), "--survival", "--json"]) == 0
    variants = json.loads(capsys.readouterr().out)["variants"]
    assert [(v["name"], v["c2pa_state"], v["digital_source_type"], v["alt_text"], v["watermark"]) for v in variants] == [
        ("original", "Valid", True, True, True),
        ("jpeg-q85", None, False, False, False),
        ("resize-1080w", None, False, False, False),
        ("resize-1080w+jpeg-q85", None, False, False, False),
    ]
    assert main(["verify", str(jpeg[0]), "--survival"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["variant", "size", "bytes", "C2PA", "XMP", "type", "alt", "text", "watermark"]
    assert table[2].split()[:2] + table[2].split()[3:] == ["original", "512x512", "Valid", "yes", "yes", "yes"]


def test_cli_init_dev_ca_writes_to_the_data_dir_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the working directory
    monkeypatch.setenv("BRIEFCRAFT_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "data" / "provenance"
    assert main(["provenance", "init-dev-ca", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "root": str(folder / "root.pem"), "cert": str(folder / "signer.pem"), "key": str(folder / "signer.key")}
    assert main(["provenance", "init-dev-ca"]) == 2
    assert capsys.readouterr().err == (f"briefcraft: error: a dev CA already exists in {folder}; "
                                       "replace it with `briefcraft provenance init-dev-ca --force`\n")
    assert main(["provenance", "init-dev-ca", "--force"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == f"verify stamped images with: briefcraft verify FILE --trust " \
                                                      f"{folder / 'root.pem'}"


def test_bench_provenance_runs_tiny(capsys: pytest.CaptureFixture[str]) -> None:
    figures = load_script("bench_provenance").main(["--size", "256", "--repeat", "1"])
    assert json.loads(capsys.readouterr().out) == figures
    rows = [(r["picture"], r["watermark"]) for r in figures["results"]]
    assert rows == [(p, m) for p in ("layout", "smooth") for m in ("off", "dwtDct", "dwtDctSvd")]
    for row in figures["results"]:
        assert row["median_s"] > 0 and set(row["survives"]) == {"jpeg-q85", "resize-1080w", "resize-1080w+jpeg-q85"}
        assert not any(v["c2pa"] for v in row["survives"].values())  # platforms drop the manifest: measured
        assert (row["status"] == "off") == (row["watermark"] == "off")
