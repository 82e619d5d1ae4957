"""``briefcraft provenance init-dev-ca`` makes a local signing CA; ``briefcraft verify FILE`` reads an image's
provenance (C2PA manifest, XMP, invisible watermark), or with ``--survival`` measures which of them survive the
re-encoding platforms do.

``verify`` exits 0 when the C2PA manifest validates (with ``--trust``: and chains to that root), 4 when there is
no manifest or it does not validate (as ``check`` and ``audit verify`` do), 2 for bad input (one line on
stderr). With ``--survival`` it exits 0 once the table is printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from briefcraft.settings import load_settings
from briefcraft.ui.compliance_cli import EXIT_BLOCKED

if TYPE_CHECKING:
    from briefcraft.tools.provenance import SurvivalReport, VerifyReport

__all__ = ["add_provenance_parsers", "run_provenance"]


def add_provenance_parsers(commands: Any) -> None:
    """Add ``provenance`` (with ``init-dev-ca``) and ``verify`` to the ``briefcraft`` parser."""
    provenance = commands.add_parser("provenance", help="content credentials: the certificate finals are signed with")
    verbs = provenance.add_subparsers(dest="verb", required=True)
    init = verbs.add_parser(
        "init-dev-ca", help="create a local development CA and signing certificate in DATA_DIR/provenance",
        description="Nobody trusts this CA but you: pass its root.pem to `briefcraft verify --trust`. For "
                    "published work set BRIEFCRAFT_PROVENANCE_CERT and BRIEFCRAFT_PROVENANCE_KEY instead.",
    )
    init.add_argument("--force", action="store_true", help="replace an existing dev CA")
    init.add_argument("--json", action="store_true", help="print the files written as JSON")

    check = commands.add_parser(
        "verify", help="read an image's provenance: C2PA manifest, XMP, watermark",
        description="Exit codes: 0 the C2PA manifest validates (with --trust: and chains to that root), 4 no "
                    "manifest or it does not validate, 2 bad input. With --survival: 0 once the table is printed.",
    )
    check.add_argument("file", metavar="FILE", type=Path, help="a PNG, JPEG or WebP image")
    check.add_argument("--trust", metavar="ROOT.pem", type=Path, help="a root certificate to trust, e.g. the dev CA's")
    check.add_argument("--survival", action="store_true",
                       help="re-encode as platforms do (JPEG q85, 1080 px wide, both) and say what survives")
    check.add_argument("--json", action="store_true", help="print JSON")


def run_provenance(args: argparse.Namespace) -> int:
    """Run ``verify`` or a ``provenance`` subcommand; returns the exit code."""
    # Imported here: c2pa, cryptography and imwatermark load only for these commands, never for `briefcraft run`.
    from briefcraft.tools.provenance import init_dev_ca, survival_report, verify

    if args.command == "verify":
        if args.survival:
            _print_survival(survival_report(args.file, trust=args.trust), args.json)
            return 0
        report = verify(args.file, trust=args.trust)
        if args.json:
            print(json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False))
        else:
            print("\n".join(_verify_lines(report)))
        return 0 if report.verified else EXIT_BLOCKED
    ca = init_dev_ca(load_settings().provenance_dir, force=args.force)
    if args.json:
        print(json.dumps({"root": str(ca.root), "cert": str(ca.cert), "key": str(ca.key)}, indent=2))
    else:
        print(f"dev CA written: {ca.root} (root), {ca.cert} (signing chain), {ca.key} (key)")
        print(f"verify stamped images with: briefcraft verify FILE --trust {ca.root}")
    return 0


def _short(source_type: str | None) -> str:
    from briefcraft.tools.provenance import IPTC_DIGITAL_SOURCE_TYPE

    return (source_type or "none").removeprefix(IPTC_DIGITAL_SOURCE_TYPE)


def _verify_lines(report: VerifyReport) -> list[str]:
    if not report.has_manifest:
        lines = [f"{report.path}: no C2PA manifest"]
    else:
        verdict = "verified" if report.verified else "NOT verified"
        lines = [f"{report.path}: C2PA manifest {report.validation_state} ({verdict})",
                 f"  signed by: {report.signer or 'unknown'}",
                 f"  title: {report.title}",
                 f"  claim generator: {report.claim_generator}",
                 f"  actions: {', '.join(report.actions) or 'none'}",
                 f"  digital source type: {_short(report.digital_source_type)}",
                 f"  software agent: {report.software_agent}",
                 f"  model: {report.model}"]
        lines += [f"  ingredient: {i.title} ({i.relationship})" for i in report.ingredients]
        lines += [f"  failure: {e.code}: {e.explanation}" for e in report.errors]
    xmp = report.xmp
    lines += [f"  XMP digital source type: {_short(xmp.digital_source_type)}",
              f"  XMP title: {xmp.title}",
              f"  XMP alt text: {xmp.alt_text}",
              f"  watermark: {report.watermark}" if report.watermark else f"  watermark: {report.watermark_status}"]
    return lines


def _print_survival(report: SurvivalReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
        return

    def mark(value: bool | None) -> str:
        return "n/a" if value is None else "yes" if value else "no"

    print(f"{report.path}: what survives re-encoding (pixels only, metadata dropped, as platforms serve)")
    print(f"  {'variant':<22} {'size':>9} {'bytes':>8}  {'C2PA':<8} {'XMP type':<9} {'alt text':<9} watermark")
    for v in report.variants:
        c2pa = (v.c2pa_state or "yes") if v.c2pa else "no"
        print(f"  {v.name:<22} {f'{v.width}x{v.height}':>9} {v.bytes:>8}  {c2pa:<8} {mark(v.digital_source_type):<9} "
              f"{mark(v.alt_text):<9} {mark(v.watermark)}")
