"""The studio's file routes against path traversal and SSRF: ``briefcraft ui`` runs in a subprocess (logins on, its
own data dir holding private files and a dev CA), and a corpus of attempts goes at it over HTTP as logged-in users.

An attempt succeeds when its response carries a private file's content (the checkpoint and thread databases, the
dev CA's private key, the .env, another thread's asset, audit ledger, pack or zip, /etc/passwd) or the canary
server's secret. At the end, the canary HTTP server on 127.0.0.1 must have seen no request, no upload may have
landed outside Gradio's upload folder, and brand memory must hold nothing the attempts tried to ingest.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, NamedTuple
from urllib.parse import quote

import httpcore
import httpx
import pytest
from builders import free_port, wait_for_server
from PIL import Image

from briefcraft.settings import Settings
from briefcraft.tools.assets import save_png
from briefcraft.tools.provenance import init_dev_ca
from briefcraft.ui.studio import serve_paths

USERS = {"maya": ("maya-pw", "marketer"), "cd": ("cd-pw", "approver")}
ENV_KEY = "sk-canary-envfile-7Q2wX9rT4kLm"
CANARY_SECRET = "canary-http-secret-3Jd8Kq"
ASSET_SECRET, AUDIT_SECRET = "other-thread-asset-9Vb2", "other-thread-audit-4Hs7"
PACK_SECRET, ZIP_SECRET = "other-thread-pack-6Np1", "other-thread-zip-2Wc5"
#: What no response may contain: each private file's content, and the canary's.
MARKERS = [b"root:x:0:0", b"SQLite format 3", b"PRIVATE KEY", ENV_KEY.encode(), CANARY_SECRET.encode(),
           ASSET_SECRET.encode(), AUDIT_SECRET.encode(), PACK_SECRET.encode(), ZIP_SECRET.encode()]
OTHER = "0123456789ab"  # another thread's id
HEX = "f" * 64  # a folder in the upload cache, named like Gradio's own
#: The private files, as paths relative to the test's home (the studio's working dir), or absolute.
TARGETS = {
    "passwd": "/etc/passwd",
    "checkpoints": "data/checkpoints.sqlite",
    "threads-db": "data/studio.sqlite",
    "env": ".env",
    "ca-key": "data/provenance/signer.key",
    "asset": "{asset}",
    "audit": f"data/audit/{OTHER}.jsonl",
    "pack": f"data/packs/{OTHER}/copy.md",
    "zip": f"data/downloads/briefcraft-{OTHER}.zip",
}
DOTS = "/".join([".."] * 12)


class Attempt(NamedTuple):
    """One request: its category, a name, and the request target with {home} {data} {cache} {asset} {canary}
    placeholders; ``raw`` targets go out byte for byte (the client would otherwise fold '../' away)."""

    category: str
    name: str
    target: str
    kind: str = "get"  # get | upload (a file name) | call (an event's api name; payload: its data) | join
    payload: Any = None
    raw: bool = False


def _file_route_attempts() -> list[Attempt]:
    attempts = []
    for name, rel in TARGETS.items():
        path = rel if rel.startswith(("/", "{")) else "{home}/" + rel
        attempts += [
            Attempt("absolute path", f"{name}", f"/gradio_api/file={path}"),
            Attempt("absolute path", f"{name}-legacy-route", f"/file={path}"),
            Attempt("absolute path", f"{name}-slash-route", f"/gradio_api/file/{path}"),
            Attempt("url-encoded", f"{name}", "/gradio_api/file=" + quote(path, safe="{}")),
            Attempt("double-encoded", f"{name}", "/gradio_api/file=" + quote(quote(path, safe="{}"), safe="{}")),
            Attempt("traversal", f"{name}-from-cache", f"/gradio_api/file={{cache}}/{DOTS}{path}", raw=True),
            Attempt("traversal", f"{name}-encoded-dots", f"/gradio_api/file={{cache}}/{DOTS.replace('.', '%2e')}"
                                                          f"{path}"),
            Attempt("backslashes", f"{name}", "/gradio_api/file={cache}" + "\\..\\" * 12 + path.replace("/", "\\")),
            Attempt("null byte", f"{name}", f"/gradio_api/file={path}%00.png"),
        ]
        if not rel.startswith(("/", "{")):
            attempts.append(Attempt("relative path", name, f"/gradio_api/file={rel}"))
    return attempts


def _static_attempts() -> list[Attempt]:
    attempts = []
    for route in ("/static", "/assets", "/gradio_api/static", "/custom_component/x/client/x"):
        attempts += [
            Attempt("static route", f"{route}-dots", f"{route}/{DOTS}/etc/passwd", raw=True),
            Attempt("static route", f"{route}-encoded", f"{route}/{DOTS.replace('/', '%2f')}%2fetc%2fpasswd"),
            Attempt("static route", f"{route}-double", f"{route}/{DOTS.replace('.', '%252e')}/etc/passwd", raw=True),
            Attempt("static route", f"{route}-checkpoints", f"{route}/{DOTS}{{home}}/data/checkpoints.sqlite",
                    raw=True),
        ]
    return attempts


def _symlink_attempts() -> list[Attempt]:
    links = ["passwd.txt", "ca-key.png", "checkpoints.png", "env.txt"]
    return [Attempt("symlink in upload cache", link, f"/gradio_api/file={{cache}}/{HEX}/{link}") for link in links] + [
        Attempt("symlink in upload cache", "linked-dir", "/gradio_api/file={cache}/linked/signer.key"),
        Attempt("symlink in upload cache", "linked-dir-legacy", "/file={cache}/linked/signer.key"),
    ]


SSRF_URLS = {
    "loopback": "http://127.0.0.1:{canary}/secret.md",
    "localhost": "http://localhost:{canary}/secret.md",
    "decimal-ip": "http://2130706433:{canary}/secret.md",
    "short-ip": "http://127.1:{canary}/secret.md",
    "zero-ip": "http://0.0.0.0:{canary}/secret.md",
    "metadata": "http://169.254.169.254/latest/meta-data/iam.md",
    "file-scheme": "file:///etc/passwd",
}


def _ssrf_attempts() -> list[Attempt]:
    attempts = [Attempt("ssrf via file route", name, f"/gradio_api/file={url}") for name, url in SSRF_URLS.items()]
    attempts += [
        Attempt("ssrf via proxy route", "loopback", "/gradio_api/proxy=http://127.0.0.1:{canary}/secret"),
        Attempt("ssrf via proxy route", "hf-userinfo", "/gradio_api/proxy=https://x.hf.space@127.0.0.1:{canary}/s"),
        Attempt("ssrf via proxy route", "hf-fragment", "/gradio_api/proxy=http://127.0.0.1:{canary}/#.hf.space"),
        Attempt("ssrf via proxy route", "metadata", "/gradio_api/proxy=http://169.254.169.254/latest/meta-data/"),
        Attempt("ssrf via proxy route", "file-scheme", "/gradio_api/proxy=file:///etc/passwd"),
    ]
    # FileData in an event's payload: Gradio fetches http(s) paths into its cache before the handler runs
    files = {**SSRF_URLS, "local-file": "/etc/passwd", "checkpoints": "{data}/checkpoints.sqlite",
             "ca-key-traversal": "{cache}/../provenance/signer.key", "symlink": f"{{cache}}/{HEX}/passwd.txt"}
    for name, path in files.items():
        data = [[{"path": path, "meta": {"_type": "gradio.FileData"}}], "websec", "none"]
        attempts.append(Attempt("ssrf/lfi via event payload", f"upload-path-{name}", "upload", "call", data))
    for name in ("loopback", "metadata"):
        data = [[{"path": "x.md", "url": SSRF_URLS[name], "meta": {"_type": "gradio.FileData"}}], "websec", "none"]
        attempts.append(Attempt("ssrf/lfi via event payload", f"upload-url-{name}", "upload", "call", data))
    for name, path in (("loopback", SSRF_URLS["loopback"].replace(".md", ".png")), ("local-file", "/etc/passwd")):
        message = {"role": "user", "content": [{"type": "file", "file": {"path": path, "meta": {
            "_type": "gradio.FileData"}}}]}
        attempts.append(Attempt("ssrf/lfi via event payload", f"chat-history-{name}", "send", "call",
                                ["", "default", [message], None, None]))
    for name in ("loopback", "metadata"):
        data = [[{"path": SSRF_URLS[name], "meta": {"_type": "gradio.FileData"}}], "websec", "none"]
        attempts.append(Attempt("ssrf/lfi via event payload", f"queue-join-{name}", "upload", "join", data))
    return attempts


def _upload_attempts() -> list[Attempt]:
    names = {"dots": "../../../../../../{home}/pwned-1.txt", "absolute": "{home}/pwned-2.txt",
             "backslashes": "..\\..\\..\\..\\pwned-3.txt", "encoded": "%2e%2e%2f%2e%2e%2fpwned-4.txt",
             "null-byte": "pwned-5.txt%00.png"}
    attempts = [Attempt("upload file name", name, "/gradio_api/upload", "upload", file)
                for name, file in names.items()]
    attempts.append(Attempt("upload file name", "upload-id", "/gradio_api/upload?upload_id=../../../pwned-6",
                            "upload", "pwned-6.txt"))
    return attempts


CORPUS = [*_file_route_attempts(), *_static_attempts(), *_symlink_attempts(), *_ssrf_attempts(),
          *_upload_attempts()]


class _Canary(http.server.BaseHTTPRequestHandler):
    """Answers every request with the secret and counts it: the studio must never call it."""

    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = CANARY_SECRET.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Studio(NamedTuple):
    url: str
    port: int
    home: Path
    cache: Path
    asset: Path
    canary: int
    cookies: dict[str, httpx.Cookies]
    process: subprocess.Popen[bytes]


def _plant(home: Path) -> Path:
    """The private files the attempts go for; returns the other thread's asset."""
    data = home / "data"
    (home / ".env").write_text(f"BRIEFCRAFT_LLM_API_KEY={ENV_KEY}\n")
    init_dev_ca(data / "provenance")
    with sqlite3.connect(data / "checkpoints.sqlite") as db:  # another thread's checkpoint, as the saver would
        db.execute("CREATE TABLE other_thread (secret TEXT)")
    asset, _ = save_png(Image.new("RGB", (8, 8), "red"), data / "assets", {"secret": ASSET_SECRET})
    (data / "audit").mkdir()
    (data / "audit" / f"{OTHER}.jsonl").write_text(json.dumps({"comment": AUDIT_SECRET}) + "\n")
    (data / "packs" / OTHER).mkdir(parents=True)
    (data / "packs" / OTHER / "copy.md").write_text(PACK_SECRET)
    (data / "downloads").mkdir()
    with zipfile.ZipFile(data / "downloads" / f"briefcraft-{OTHER}.zip", "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("copy.md", ZIP_SECRET)
    # links planted in Gradio's upload cache (GRADIO_TEMP_DIR is DATA_DIR/gradio), to private files and a folder
    links = data / "gradio" / HEX
    links.mkdir(parents=True)
    for name, to in (("passwd.txt", Path("/etc/passwd")), ("ca-key.png", data / "provenance" / "signer.key"),
                     ("checkpoints.png", data / "checkpoints.sqlite"), ("env.txt", home / ".env")):
        (links / name).symlink_to(to)
    (data / "gradio" / "linked").symlink_to(data / "provenance", target_is_directory=True)
    return asset


@pytest.fixture(scope="module")
def studio(briefcraft_exe: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Studio]:
    """The studio with logins, planted private files and a canary HTTP server; stopped with Ctrl+C at the end."""
    home = tmp_path_factory.mktemp("websec")
    asset = _plant(home)
    canary = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    threading.Thread(target=canary.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFCRAFT_", "GRADIO_"))}
    env |= {"BRIEFCRAFT_DATA_DIR": str(home / "data"), "GRADIO_ANALYTICS_ENABLED": "False",
            "BRIEFCRAFT_UI_USERS": json.dumps({n: {"password": p, "role": r} for n, (p, r) in USERS.items()})}
    port = free_port()
    log = (home / "server.log").open("wb")
    process = subprocess.Popen([briefcraft_exe, "ui", "--port", str(port)], cwd=home, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url, process, home / "server.log", "briefcraft ui", timeout=90)
        cookies = {}
        for name, (password, _) in USERS.items():
            reply = httpx.post(f"{url}/login", data={"username": name, "password": password})
            assert reply.json() == {"success": True}
            cookies[name] = reply.cookies
        yield _Studio(url, port, home, home / "data" / "gradio", asset, canary.server_address[1], cookies, process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        canary.shutdown()


def _fill(value: Any, studio: _Studio) -> Any:
    """``value`` with its placeholders filled in, through lists and dicts."""
    if isinstance(value, str):
        return (value.replace("{home}", str(studio.home)).replace("{data}", str(studio.home / "data"))
                .replace("{cache}", str(studio.cache)).replace("{asset}", str(studio.asset))
                .replace("{canary}", str(studio.canary)))
    if isinstance(value, list):
        return [_fill(v, studio) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, studio) for k, v in value.items()}
    return value


def _events(client: httpx.Client, path: str) -> bytes:
    """An event stream's whole body (the studio's events end quickly on these payloads)."""
    with client.stream("GET", path, timeout=60) as reply:
        return b"".join(reply.iter_bytes())


def _send(studio: _Studio, attempt: Attempt) -> tuple[int, bytes]:
    """Make the attempt as a logged-in user (the approver for events, who may upload; else the marketer)."""
    user = "cd" if attempt.kind in ("call", "join") else "maya"
    target = _fill(attempt.target, studio)
    with httpx.Client(base_url=studio.url, cookies=studio.cookies[user], timeout=30) as client:
        if attempt.raw:
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
            reply = httpcore.request("GET", httpcore.URL(scheme=b"http", host=b"127.0.0.1", port=studio.port,
                                                         target=target.encode()), headers={"Cookie": cookie})
            return reply.status, reply.content
        if attempt.kind == "get":
            got = client.get(target)
            return got.status_code, got.content
        if attempt.kind == "upload":
            files = {"files": (_fill(attempt.payload, studio), b"pwned upload", "text/plain")}
            got = client.post(target, files=files)
            return got.status_code, got.content
        data = _fill(attempt.payload, studio)
        if attempt.kind == "call":
            started = client.post(f"/gradio_api/call/{target}", json={"data": data})
            if started.status_code != 200:
                return started.status_code, started.content
            return 200, started.content + _events(client, f"/gradio_api/call/{target}/{started.json()['event_id']}")
        config = client.get("/config").json()
        fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == target)
        session = f"websec-{time.monotonic_ns()}"
        joined = client.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index,
                                                             "session_hash": session})
        if joined.status_code != 200:
            return joined.status_code, joined.content
        return 200, joined.content + _events(client, f"/gradio_api/queue/data?session_hash={session}")


def test_the_corpus_covers_each_kind_of_attempt() -> None:
    categories = {a.category for a in CORPUS}
    assert len(CORPUS) >= 60 and len({(a.category, a.name) for a in CORPUS}) == len(CORPUS)
    assert {"absolute path", "url-encoded", "double-encoded", "traversal", "backslashes", "null byte",
            "relative path", "static route", "symlink in upload cache", "ssrf via file route", "ssrf via proxy route",
            "ssrf/lfi via event payload", "upload file name"} == categories


def test_the_planted_secrets_are_there(studio: _Studio) -> None:
    """The attempts go for files that exist and hold the markers (so a refusal is not a missing file)."""
    for rel in TARGETS.values():
        path = Path(_fill(rel, studio) if rel.startswith(("/", "{")) else studio.home / rel)
        assert any(marker in path.read_bytes() for marker in MARKERS), path


@pytest.mark.parametrize("attempt", CORPUS, ids=[f"{a.category}:{a.name}" for a in CORPUS])
def test_an_attempt_gets_nothing_private(studio: _Studio, attempt: Attempt) -> None:
    status, body = _send(studio, attempt)
    leaked = [marker for marker in MARKERS if marker in body]
    assert leaked == [], f"{attempt.category} {attempt.name}: HTTP {status} carried {leaked}"
    if attempt.kind == "get":
        assert status in (400, 403, 404), f"{attempt.category} {attempt.name}: HTTP {status}"
    if attempt.kind == "upload" and status == 200:  # stored, but only inside the upload cache
        (stored,) = json.loads(body)
        assert Path(stored).resolve().is_relative_to(studio.cache.resolve())


def test_no_attempt_reached_the_canary_or_wrote_outside_the_cache(studio: _Studio) -> None:
    assert _Canary.hits == []
    assert sorted(p.name for p in studio.home.rglob("pwned*") if not p.is_relative_to(studio.cache)) == []
    with httpx.Client(base_url=studio.url, cookies=studio.cookies["cd"], timeout=30) as client:
        started = client.post("/gradio_api/call/sources", json={"data": ["websec"]}).json()
        events = _events(client, f"/gradio_api/call/sources/{started['event_id']}")
    assert b"Brand 'websec' has nothing in memory yet." in events


def test_what_the_studio_must_serve_is_still_served(studio: _Studio) -> None:
    """An upload comes back from the upload cache: the corpus is refused by the rules, not by a broken route."""
    with httpx.Client(base_url=studio.url, cookies=studio.cookies["maya"], timeout=30) as client:
        (stored,) = client.post("/gradio_api/upload", files={"files": ("guide.md", b"# Guide", "text/plain")}).json()
        assert client.get(f"/gradio_api/file={stored}").content == b"# Guide"
        assert client.get("/").status_code == 200
        # the event payloads' shape is right: with a path Gradio gave out, the handler runs (and refuses a marketer)
        data = [[{"path": stored, "meta": {"_type": "gradio.FileData"}}], "websec", "none"]
        started = client.post("/gradio_api/call/upload", json={"data": data}).json()
        events = _events(client, f"/gradio_api/call/upload/{started['event_id']}")
    assert b"maya is a marketer: only approvers and admins change brand memory" in events
    assert httpx.get(f"{studio.url}/gradio_api/file={stored}").status_code == 401  # logged out: nothing


def test_only_a_data_dir_gradio_would_refuse_gets_allowed_paths(settings: Settings, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the working or temp dir Gradio takes returned files without allowed paths, so none are given; a data
    dir elsewhere gets its two shown folders allowed, never its private parts."""
    monkeypatch.chdir(tmp_path)
    assert serve_paths(settings)[0] == []
    allowed, blocked = serve_paths(Settings(_env_file=None, data_dir=Path("/srv/briefcraft")))  # type: ignore[call-arg]
    assert allowed == ["/srv/briefcraft/assets", "/srv/briefcraft/downloads"]
    assert blocked == [
        "/srv/briefcraft/checkpoints.sqlite", "/srv/briefcraft/studio.sqlite",
        *(f"/srv/briefcraft/{db}{end}" for db in ("checkpoints.sqlite", "studio.sqlite")
          for end in ("-wal", "-shm", "-journal")),
        "/srv/briefcraft/provenance", "/srv/briefcraft/audit", "/srv/briefcraft/memory", "/srv/briefcraft/packs",
        str(tmp_path.resolve() / ".env"),
    ]
