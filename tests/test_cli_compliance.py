"""`briefcraft check copy|image`: the JSON contract, exit codes, brand rules from memory, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from briefcraft.memory.kit import save_kit
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.schemas import BrandKit, KitItem
from briefcraft.settings import Settings
from briefcraft.ui.cli import main


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("BRIEFCRAFT_DATA_DIR", str(settings.data_dir))
    return settings


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    return dict(json.loads(capsys.readouterr().out))


def test_check_copy_json_contract(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    text = "Clinically proven cold brew. Contains oats."
    assert main(["check", "copy", text, "--channel", "x_post", "--require", "Contains oats", "--json"]) == 4
    result = _json(capsys)
    assert result["status"] == "blocked" and isinstance(result["score"], int) and result["score"] < 100
    (finding,) = result["findings"]  # type: ignore[misc]
    assert {k: finding[k] for k in ("rule", "severity", "start", "end")} == {
        "rule": "unsubstantiated-claim.absolute", "severity": "error", "start": 0, "end": 17,
    }
    assert text[finding["start"]:finding["end"]] == "Clinically proven"
    assert set(finding) >= {"message", "suggestion", "source"}

    assert main(["check", "copy", "Slow-steeped and smooth. Contains oats.", "--channel", "x_post",
                 "--require", "contains oats", "--forbid", "cheap", "--json"]) == 0
    assert {k: v for k, v in _json(capsys).items() if k != "not_checked"} == {
        "status": "approved", "score": 100, "findings": []
    }


def test_check_copy_checks_contact_details_only_when_given(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    text = "Crates at northbound.coffee/crates or call 0800 123 4567."
    assert main(["check", "copy", text, "--channel", "x_post", "--json"]) == 0  # no brief: not checked
    assert _json(capsys)["findings"] == []
    assert main(["check", "copy", text, "--channel", "x_post", "--contact", "https://northbound.coffee", "--json"]) == 4
    (finding,) = _json(capsys)["findings"]  # type: ignore[misc]
    assert (finding["rule"], text[finding["start"]:finding["end"]]) == ("contact-detail.phone", "0800 123 4567")
    assert finding["source"] == "brief: contact details (https://northbound.coffee)"
    assert main(["check", "copy", text, "--channel", "x_post", "--contact", "none", "--json"]) == 4
    assert [f["rule"] for f in _json(capsys)["findings"]] == [  # type: ignore[attr-defined]
        "contact-detail.link", "contact-detail.phone"
    ]


def test_check_copy_applies_the_brand_kit(env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cite = "guidelines.md > Words"
    kit = BrandKit(
        brand="northbound",
        forbidden_terms=[KitItem(value="cheap", source=cite, origin="rule")],
        required_disclaimers=[KitItem(value="Contains oats", source=cite, origin="rule")],
        competitors=[KitItem(value="Oatly", source="guidelines.md > Competitors", origin="rule")],
        product_names=[KitItem(value="Northbound Cold Brew", source="guidelines.md > Names", origin="rule")],
    )
    with ChromaBrandMemory(env) as memory:
        save_kit(memory.kit_path("northbound"), kit)
    copy = tmp_path / "caption.txt"
    copy.write_text("Cheaper than Oatly: northbound cold brew.", encoding="utf-8")
    assert main(["check", "copy", f"@{copy}", "--channel", "instagram_feed", "--brand", "northbound", "--json"]) == 4
    found = {(f["rule"], f["source"]) for f in _json(capsys)["findings"]}  # type: ignore[attr-defined]
    assert found == {
        ("forbidden-term.brand", cite), ("forbidden-term.competitor", "guidelines.md > Competitors"),
        ("missing-disclosure.brand", cite), ("terminology.product-name", "guidelines.md > Names"),
    }
    assert main(["check", "copy", "x", "--channel", "x_post", "--brand", "nobody"]) == 2
    assert capsys.readouterr().err == ("briefcraft: error: brand 'nobody' has nothing in brand memory; add its "
                                       "guidelines with 'briefcraft memory add FILE --brand nobody'\n")


def test_check_copy_bad_input_is_one_line(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "copy", "hello", "--channel", "email", "--field", "title"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("briefcraft: error: ") and "subject" in err


def test_check_image_reports_what_it_could_not_check(env: Settings, capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    picture = tmp_path / "banner.png"
    Image.new("RGB", (300, 250), "#1F3A5F").save(picture)
    assert main(["check", "image", str(picture), "--alt", "Navy banner", "--json"]) == 0
    result = _json(capsys)
    assert result["status"] == "approved" and result["findings"] == [
        f for f in result["findings"] if f["severity"] == "info"  # type: ignore[attr-defined, index]
    ]
    not_checked = " ".join(result["not_checked"])  # type: ignore[arg-type]
    assert "accessibility.contrast" in not_checked and "image-safety: not checked" in not_checked
    assert main(["check", "image", str(tmp_path / "missing.png")]) == 2
    assert capsys.readouterr().err.startswith("briefcraft: error: ")
