"""The studio in a real browser: `briefcraft ui` in a subprocess (the local model writes the copy), Debian's chromium
driven by Playwright. The flows run in file order on one server and one data dir:

(a) maya (marketer) submits the sample brief, sees each step and the previews; the thread waits for approval;
(c) lea (another marketer) submits a brief of her own and never sees maya's thread;
(b) cd (approver) rejects a copy item of maya's thread, sees its new revision, approves everything, downloads the pack;
(d) the server stops and starts again, and cd approves lea's waiting thread to the end (with "Approve all");
(e) cd adds a guideline to a brand of its own on the Brand tab, sees the ingest report and the kit, and searches it.

Screenshots of the four tabs go to docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import CHROMIUM, free_port, require_chromium, wait_for_server
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = pytest.mark.llm

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "docs" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
USERS = {"maya": ("maya-pw", "marketer"), "lea": ("lea-pw", "marketer"), "cd": ("cd-pw", "approver")}
LEA_BRIEF = "Launch our oat-milk cold brew on Instagram. Must say 'Contains oats'."
RUN_S = 180_000  # ms a graph run may take on 2 busy cores (the local model writes every copy item)


class _Server:
    """``briefcraft ui`` in a subprocess on a free port, with its own data dir; startable again."""

    def __init__(self, exe: str, home: Path):
        self.exe, self.home = exe, home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFCRAFT_")}
        self.env |= {
            "BRIEFCRAFT_DATA_DIR": str(home / "data"), "GRADIO_ANALYTICS_ENABLED": "False",
            "BRIEFCRAFT_UI_USERS": json.dumps({n: {"password": p, "role": r} for n, (p, r) in USERS.items()}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        log = (self.home / "server.log").open("ab")
        # cwd: the temp dir, so no .env of the checkout is read
        # --brand: the brand the Brief and Brand tabs start on (`make run` opens on the sample brand so)
        self.process = subprocess.Popen([self.exe, "ui", "--port", str(port), "--brand", "house"], cwd=self.home,
                                        env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}/"
        wait_for_server(self.url, self.process, self.home / "server.log", "briefcraft ui")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)  # Ctrl+C: what a person stopping the studio does
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log(self) -> str:
        return (self.home / "server.log").read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def server(briefcraft_exe: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    require_chromium()
    studio = _Server(briefcraft_exe, tmp_path_factory.mktemp("studio"))
    studio.start()
    yield studio
    studio.stop()
    print(studio.log())  # shown by pytest when a flow failed


@pytest.fixture(scope="module")
def browser(server: _Server) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def threads() -> dict[str, str]:
    """The thread ids the flows create, by owner."""
    return {}


def _login(browser: Browser, server: _Server, user: str) -> Page:
    """A fresh browser context (its own cookies) logged in as ``user``, on the Brief tab."""
    page = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True).new_page()
    page.goto(server.url, wait_until="load")
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(USERS[user][0])
    page.get_by_role("button", name="Login").click()
    page.locator("#brief-input textarea").wait_for()
    return page


def _submit_brief(page: Page, text: str) -> str:
    """Send a brief and wait until it waits for approval; returns its thread id."""
    budget = page.locator("#brief-budget").get_by_role("textbox")  # empty, not a 0 that reads as a budget of nothing
    expect(budget).to_have_value("")
    expect(budget).to_have_attribute("placeholder", "no limit (e.g. 0.50)")
    page.locator("#brief-input textarea").fill(text)
    page.locator("#brief-send").click()
    chat = page.locator("#brief-chat")
    expect(chat).to_contain_text("open the Review tab", timeout=RUN_S)
    found = re.search(r"Thread (\w+) waits for approval", chat.inner_text())
    assert found is not None
    return found.group(1)


def _choose(page: Page, dropdown: str, thread_id: str) -> None:
    """Pick the thread in a dropdown (typing filters the options)."""
    page.locator(f"{dropdown} input").fill(thread_id)
    page.get_by_role("option", name=re.compile(thread_id)).click()


def _load_review(page: Page, thread_id: str) -> None:
    page.get_by_role("tab", name="Review").click()
    _choose(page, "#review-thread", thread_id)
    page.locator("#review-load").click()
    expect(page.locator("#review-status")).to_contain_text("wait for a decision")
    page.locator("#decision-0").wait_for()


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # the chat from its start: the steps, rather than only the last messages
    page.locator("#brief-chat").evaluate(
        "chat => chat.querySelectorAll('*').forEach(e => { if (e.scrollHeight > e.clientHeight) e.scrollTop = 0; })"
    )
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_marketer_submits_the_sample_brief(browser: Browser, server: _Server, sample_brief: str,
                                            threads: dict[str, str]) -> None:
    page = _login(browser, server, "maya")
    expect(page.locator("#brief-brand textarea")).to_have_value("house")
    threads["maya"] = _submit_brief(page, sample_brief)
    chat = page.locator("#brief-chat")
    for step in ("intake", "recall_brand", "plan", "write_copy copy-instagram_feed-1", "write_copy copy-email-1",
                 "make_visual img-instagram_feed-1", "make_visual img-email-1", "check_compliance", "review"):
        expect(chat).to_contain_text(step)
    expect(chat).to_contain_text("Compliance: ")
    expect(page.locator("#brief-previews img")).to_have_count(2)
    expect(page.locator("#brief-input textarea")).to_have_value("")
    _shot(page, "brief")
    page.context.close()


def test_c_another_marketer_does_not_see_the_thread(browser: Browser, server: _Server,
                                                    threads: dict[str, str]) -> None:
    page = _login(browser, server, "lea")
    threads["lea"] = _submit_brief(page, LEA_BRIEF)
    page.get_by_role("tab", name="Runs").click()
    table = page.locator("#runs-table")
    expect(table).to_contain_text(threads["lea"])
    expect(table).not_to_contain_text(threads["maya"])
    page.locator("#runs-thread input").click()
    expect(page.get_by_role("option")).to_have_count(1)
    expect(page.get_by_role("option")).to_contain_text(threads["lea"])
    page.context.close()


def test_b_an_approver_rejects_approves_and_downloads_the_pack(browser: Browser, server: _Server,
                                                               threads: dict[str, str], tmp_path: Path) -> None:
    page = _login(browser, server, "cd")
    _load_review(page, threads["maya"])
    expect(page.locator("[id^=decision-]")).to_have_count(4)
    expect(page.locator("#item-0")).to_contain_text("copy-instagram_feed-1")
    page.locator("#decision-0").get_by_label("reject").check()
    page.locator("#comment-0 textarea").fill("Warmer, less salesy")
    for i in (1, 2):
        page.locator(f"#decision-{i}").get_by_label("approve").check()
    # the email image's alt text, edited in place: its finals carry the description after their own text
    expect(page.locator("#item-3")).to_contain_text("img-email-1")
    page.locator("#edit-3 textarea").fill("alt_text: A glass of oat-milk cold brew on a tram seat")
    page.locator("#decision-3").get_by_label("edit").check()
    _shot(page, "review")
    page.locator("#review-submit").click()
    status = page.locator("#review-status")
    expect(status).to_contain_text("waits for approval of 1 item(s)", timeout=RUN_S)
    expect(status).to_contain_text("copy-instagram_feed-1 reject")
    expect(status).to_contain_text("img-email-1 edit")
    expect(page.locator("[id^=decision-]")).to_have_count(1)
    header = page.locator("#item-0").inner_text()
    revision = re.search(r"copy for instagram_feed, variant 1, revision (\d+)", header)
    assert revision is not None and int(revision.group(1)) >= 1, header

    page.locator("#decision-0").get_by_label("approve").check()
    page.locator("#review-submit").click()
    expect(status).to_contain_text("is done; pack written to", timeout=RUN_S)

    page.get_by_role("tab", name="Runs").click()
    expect(page.locator("#runs-table")).to_contain_text("done")
    _choose(page, "#runs-thread", threads["maya"])
    page.locator("#runs-open").click()
    expect(page.locator("#runs-detail")).to_contain_text("ledger verifies")
    expect(page.locator("#runs-audit")).to_contain_text("human_decision")
    with page.expect_download() as download:
        page.locator("#runs-download a").first.click()
    archive = tmp_path / "pack.zip"
    download.value.save_as(archive)
    with zipfile.ZipFile(archive) as pack:
        assert "manifest.json" in pack.namelist()
        manifest = json.loads(pack.read("manifest.json"))
    assert manifest["compliance"]["status"] in ("approved", "review", "blocked")
    [email] = [image for image in manifest["images"] if image["source_id"] == "img-email-1"]
    assert email["alt_text"].endswith(" — A glass of oat-milk cold brew on a tram seat")
    _shot(page, "runs")
    page.context.close()


def test_d_a_waiting_thread_completes_after_a_restart(browser: Browser, server: _Server,
                                                      threads: dict[str, str]) -> None:
    server.stop()
    server.start()
    page = _login(browser, server, "cd")
    page.get_by_role("tab", name="Review").click()  # the only thread still waiting is chosen: Load is one click
    expect(page.locator("#review-thread input")).to_have_value(re.compile(threads["lea"]))
    page.locator("#review-load").click()
    page.locator("#decision-0").wait_for()
    page.locator("#review-approve-all").click()
    for i in range(page.locator("[id^=decision-]").count()):
        expect(page.locator(f"#decision-{i}").get_by_label("approve")).to_be_checked()
    page.locator("#review-submit").click()
    expect(page.locator("#review-status")).to_contain_text("is done; pack written to", timeout=RUN_S)
    page.get_by_role("tab", name="Runs").click()
    expect(page.locator("#runs-table")).not_to_contain_text("waiting_for_approval")
    expect(page.locator("#runs-table")).to_contain_text(LEA_BRIEF.splitlines()[0][:30])  # each run's brief, by title
    page.locator("#runs-table [role=gridcell]").filter(has_text=threads["lea"]).click()  # a row opens its thread
    expect(page.locator("#runs-thread input")).to_have_value(re.compile(threads["lea"]))
    expect(page.locator("#runs-detail")).to_contain_text(f"Thread {threads['lea']} is done")
    expect(page.locator("#runs-detail")).to_contain_text("ledger verifies")
    page.context.close()


def test_e_an_approver_manages_the_brand(browser: Browser, server: _Server, tmp_path: Path) -> None:
    guide = tmp_path / "house-style.md"
    guide.write_text("# House style\n\n## Words\nNever say: cheap, \"guilt-free\"\n\n## Colours\nPrimary #112233.\n\n"
                     "## Imagery\nNatural light and real people on their morning commute.\n", encoding="utf-8")
    page = _login(browser, server, "cd")
    page.get_by_role("tab", name="Brand").click()
    page.locator("#brand-name textarea").fill("Acme")  # a brand of its own: the other flows' briefs stay as they are
    page.locator("#brand-files input[type=file]").set_input_files(str(guide))
    expect(page.locator("#brand-files")).to_contain_text("house-style.md")  # on the server: ready to add
    page.locator("#brand-upload").click()
    expect(page.locator("#brand-status")).to_contain_text("Brand 'Acme': 1 of 1 file(s) ingested. Brand kit "
                                                          "re-distilled:", timeout=RUN_S)
    expect(page.locator("#brand-report")).to_contain_text("house-style.md")
    expect(page.locator("#brand-report")).to_contain_text("added")
    expect(page.locator("#brand-sources")).to_contain_text("house-style.md")
    expect(page.locator("#brand-kit-status")).to_contain_text("Brand kit of 'Acme': ")  # the kit loaded again
    expect(page.locator("#brand-kit")).to_contain_text("brand: Acme")
    page.locator("#brand-query textarea").fill("photos of people commuting")
    page.locator("#brand-search").click()
    expect(page.locator("#brand-hits")).to_contain_text("house-style.md > House style > Imagery")
    _shot(page, "brand")
    page.context.close()
