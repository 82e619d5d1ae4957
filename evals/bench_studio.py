"""Benchmark: the studio's responsiveness in a real browser (Debian's chromium driven by Playwright).

    .venv/bin/python evals/bench_studio.py first-response [--repeat 3] [--json PATH]
    .venv/bin/python evals/bench_studio.py concurrent [--users 10] [--rounds 3] [--ui-concurrency N] [--json PATH]

``first-response``: ``briefcraft ui`` in a subprocess, exactly the offline default (the local llama.cpp model, a
fresh data dir, no logins, no BRIEFCRAFT_* from the caller), on a free port. Its start-up (process start to HTTP
200) is timed; then, on a fresh page per run, the sample brief is sent and the page notes when the chat shows the
first step message, when the first ``#brief-previews img`` is on screen (loaded), and when the chat says the thread
waits for approval, plus when each step's message appeared and finished.

``concurrent``: the studio in this process on a fast fake chat model (every call answered at once with valid JSON),
and ``--users`` browser contexts in one chromium, each doing, ``--rounds`` times on a fresh page: send the sample
brief, open the Review tab, pick its thread, Load, approve every item, Submit, open the Runs tab, Refresh. Every
click's UI response is timed (click to the first visible change it causes, and to completion for long ones), with
the queue wait and run time of the Gradio event behind it; p50/p95/max per interaction over all users and rounds.
Each user's chat must name only its own thread.

Times are taken inside the page (``performance.now()``): a capture listener stamps the click, a MutationObserver
(and image load events) stamps the first moment each condition holds, and a wrapper of ``fetch`` reads the queue's
server-sent events (queue join, process start, process end per event). Prints markdown tables; ``--json`` writes
every sample.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import platform
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from briefcraft.evals.fakes import FastChat
from briefcraft.evals.report import markdown_table, median, p95

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "briefcraft" / "data" / "sample_brief.txt"
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
RUN_TIMEOUT_S = 600  # a graph run on 2 busy cores with the local model; a step that never ends fails the run
STEP_TIMEOUT_S = 120  # anything else one interaction waits for

# Installed in every page before Gradio's scripts run. It only observes: stamps, DOM checks and a tee of the
# queue's event stream; Gradio reads the same responses it would without it.
PROBE_JS = r"""
(() => {
  const B = {clickAt: null, watch: {}, marks: {}, steps: [], trackSteps: false, joins: [], sse: {}, apis: null,
             longTasks: []};
  window.__bench = B;
  const now = () => performance.now();
  B.visible = sel => { const e = document.querySelector(sel); return !!e && e.getClientRects().length > 0; };
  B.text = sel => { const e = document.querySelector(sel); return e ? e.textContent : ''; };
  B.api = fn => {
    if (B.apis === null && window.gradio_config) {
      B.apis = {};
      for (const d of window.gradio_config.dependencies || []) B.apis[d.id] = d.api_name || `fn${d.id}`;
    }
    return (B.apis || {})[fn] || `fn${fn}`;
  };
  B.since = () => B.joins.filter(j => B.clickAt !== null && j.t >= B.clickAt);
  // every queue event the click caused has ended (tab selects and Refresh change nothing else one can wait for)
  B.settled = () => B.since().length > 0 && B.since().every(j => 'process_completed' in (B.sse[j.event] || {}));
  B.arm = (watch, trackSteps) => {
    B.watch = {};
    for (const [name, src] of Object.entries(watch)) B.watch[name] = new Function('B', `return (${src});`);
    B.marks = {}; B.steps = []; B.trackSteps = trackSteps; B.clickAt = null;
  };
  B.check = () => {
    if (B.clickAt === null) return;
    const t = now();
    for (const [name, holds] of Object.entries(B.watch)) {
      if (!(name in B.marks)) { try { if (holds(B)) B.marks[name] = t; } catch (e) { /* not rendered yet */ } }
    }
    if (!B.trackSteps) return;
    document.querySelectorAll('#brief-chat .thought-group .title').forEach((el, i) => {
      const step = B.steps[i] || (B.steps[i] = {title: '', shown: t, done: null});
      if (!step.title) step.title = (el.querySelector('.md') || el).textContent.trim();  // markdown renders late
      if (step.done === null && !el.querySelector('.loading-spinner')) step.done = t;  // a spinner while pending
    });
  };
  B.result = () => {
    const rel = t => t === null || t === undefined ? null : (t - B.clickAt) / 1000;
    const marks = {};
    for (const [name, t] of Object.entries(B.marks)) marks[name] = rel(t);
    const events = B.since().sort((a, b) => a.t - b.t).map(j => {
      const s = B.sse[j.event] || {};
      return {api: j.api, join: rel(j.t), queued: rel(s.estimation), starts: rel(s.process_starts),
              completed: rel(s.process_completed), rank: s.rank === undefined ? null : s.rank};
    });
    const steps = B.steps.filter(Boolean).map(s => ({title: s.title, shown: rel(s.shown), done: rel(s.done)}));
    // main-thread tasks over 50 ms since the click: how long the page could not react to input
    const busy = B.longTasks.filter(([start]) => start >= B.clickAt).map(([, duration]) => duration / 1000);
    return {marks, events, steps, long_tasks: busy.length, longest_task: busy.length ? Math.max(...busy) : 0};
  };
  B.disarm = () => { B.watch = {}; B.trackSteps = false; };
  document.addEventListener('click', () => {
    if (B.clickAt === null && Object.keys(B.watch).length) { B.clickAt = now(); B.check(); }
  }, true);
  document.addEventListener('load', B.check, true);  // images: loading one changes no DOM
  new PerformanceObserver(list => { for (const e of list.getEntries()) B.longTasks.push([e.startTime, e.duration]); })
    .observe({type: 'longtask', buffered: true});
  new MutationObserver(B.check).observe(document, {subtree: true, childList: true, attributes: true,
                                                   characterData: true});

  async function tap(stream) {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      const t = now();
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of chunk.split('\n')) {
          if (!line.startsWith('data:')) continue;
          let message;
          try { message = JSON.parse(line.slice(5)); } catch (e) { continue; }
          if (!message.event_id) continue;
          const seen = B.sse[message.event_id] || (B.sse[message.event_id] = {});
          if (!(message.msg in seen)) seen[message.msg] = t;
          if (message.msg === 'estimation' && seen.rank === undefined) seen.rank = message.rank;
        }
      }
      B.check();
    }
  }
  const original = window.fetch;
  window.fetch = async function (input, init) {
    const url = String(input && input.url ? input.url : input);
    const t = now();
    const response = await original.call(this, input, init);
    try {
      if (url.includes('/queue/join')) {
        const fn = JSON.parse(init.body).fn_index;
        response.clone().json().then(body => { B.joins.push({t, fn, api: B.api(fn), event: body.event_id}); });
      } else if (url.includes('/queue/data') && !(init && init.method && init.method !== 'GET') && response.body) {
        const [mine, theirs] = response.body.tee();
        tap(mine);
        return new Response(theirs, {status: response.status, statusText: response.statusText,
                                     headers: response.headers});
      }
    } catch (e) { /* not a queue call we read */ }
    return response;
  };
})();
"""

# What each interaction waits for, as JavaScript conditions on the page (B is the probe).
USER_SHOWN = "B.visible('#brief-chat [data-testid=\"user\"]')"
STEP_SHOWN = "B.visible('#brief-chat [data-testid=\"bot\"] .thought-group .title')"
PREVIEW_SHOWN = ("[...document.querySelectorAll('#brief-previews img')]"
                 ".some(i => i.complete && i.naturalWidth > 0 && i.getClientRects().length > 0)")
WAITS = "B.text('#brief-chat').includes('open the Review tab')"


# --- helpers -------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _chromium_version() -> str:
    found = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, check=False).stdout
    return found.strip() or "unknown"


def _machine() -> dict[str, Any]:
    import gradio

    studio = REPO / "ui" / "studio.py"  # which studio was measured: it changes while features land
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "python": platform.python_version(), "gradio": gradio.__version__, "browser": _chromium_version(),
            "studio_sha256": hashlib.sha256(studio.read_bytes()).hexdigest()[:12],
            "studio_modified": datetime.fromtimestamp(studio.stat().st_mtime, UTC).isoformat(timespec="seconds")}


def _version(machine: dict[str, Any]) -> str:
    return (f"measured {machine['date']}: ui/studio.py sha256 {machine['studio_sha256']} (modified "
            f"{machine['studio_modified']}), gradio {machine['gradio']}, {machine['browser']}, "
            f"Python {machine['python']}")


def _descendants_cpu() -> float:
    """CPU seconds of every live process under this one (browser, driver, server), with their ended children."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # not a process, or it ended meanwhile
        # after the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15), counted from state = 0
        stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK"))
    below, found = {os.getpid()}, True
    while found:
        found = False
        for pid, (parent, _) in stats.items():
            if parent in below and pid not in below:
                below.add(pid)
                found = True
    return sum(stats[pid][1] for pid in below - {os.getpid()})


class _Usage:
    """CPU seconds of this process and of the processes under it (browser, server subprocess) over a stretch of
    wall time, with the machine's load average at both ends: how much of the 2 shared cores the benchmark got."""

    def __init__(self) -> None:
        self.started, self.load = time.perf_counter(), os.getloadavg()[0]
        self.cpu = self._own()
        self.children = _descendants_cpu()

    @staticmethod
    def _own() -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        return me.ru_utime + me.ru_stime

    def report(self, children_cpu: float) -> dict[str, float]:
        """The figures since construction; ``children_cpu`` is ``_descendants_cpu()`` taken before they ended."""
        wall = time.perf_counter() - self.started
        return {"wall_s": round(wall, 1), "cpu_self_s": round(self._own() - self.cpu, 1),
                "cpu_children_s": round(children_cpu - self.children, 1), "load_start": self.load,
                "load_end": os.getloadavg()[0]}

    @staticmethod
    def line(figures: dict[str, float]) -> str:
        """One line for the report."""
        used = (figures["cpu_self_s"] + figures["cpu_children_s"]) / figures["wall_s"]
        return (f"CPU: this process {figures['cpu_self_s']:.0f} s, the processes under it (browser; server in "
                f"first-response) {figures['cpu_children_s']:.0f} s, in {figures['wall_s']:.0f} s wall = {used:.2f} "
                f"of {os.cpu_count()} cores on average; load average (1 min) {figures['load_start']:.1f} at the "
                f"start, {figures['load_end']:.1f} at the end")




def _fmt(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "–" if value is None else f"{value * scale:.{digits}f}"



async def _new_page(browser: Browser) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    await context.add_init_script(PROBE_JS)
    return context, await context.new_page()


async def _open(page: Page, url: str) -> float:
    """Load the studio; seconds until the brief box is on screen."""
    started = time.perf_counter()
    await page.goto(url, wait_until="load")
    await page.locator("#brief-input textarea").wait_for(timeout=STEP_TIMEOUT_S * 1000)
    return time.perf_counter() - started


async def _interact(page: Page, target: Locator, watch: dict[str, str], *, done: str, timeout_s: float,
                    also_s: float = 0.0, steps: bool = False, failed_in: str | None = None) -> dict[str, Any]:
    """Click ``target`` and wait until condition ``done`` holds (then up to ``also_s`` for the other conditions);
    returns the seconds from the click to each condition, the queue events it caused, and the chat's steps.
    ``RuntimeError`` when the element ``failed_in`` shows the studio's failure line (a stopped thread, a ⚠)."""
    if failed_in is not None:
        watch = {**watch, "failed": f"/stopped \\(|⚠/.test(B.text({json.dumps(failed_in)}))"}
    await page.evaluate("([watch, steps]) => window.__bench.arm(watch, steps)", [watch, steps])
    await target.click()
    await page.wait_for_function(f"() => [{json.dumps(done)}, 'failed'].some(n => n in window.__bench.marks)",
                                 polling=50, timeout=timeout_s * 1000)
    if await page.evaluate(f"() => !({json.dumps(done)} in window.__bench.marks)"):
        shown = " ".join((await page.locator(str(failed_in)).inner_text()).split())
        raise RuntimeError(f"the studio reported a failure: ...{shown[-400:]}")
    watch.pop("failed", None)
    if also_s and len(watch) > 1:
        names = json.dumps(list(watch))
        with suppress(PlaywrightTimeout):  # a condition that never held stays missing (None) in the result
            await page.wait_for_function(f"() => {names}.every(n => n in window.__bench.marks)", polling=50,
                                         timeout=also_s * 1000)
    result: dict[str, Any] = await page.evaluate("() => window.__bench.result()")
    await page.evaluate("() => window.__bench.disarm()")
    return result


def _thread_ids(text: str) -> set[str]:
    return set(re.findall(r"Thread (\w+) ", text))


# --- first-response ------------------------------------------------------------------------------------


@contextmanager
def _briefcraft_ui(home: Path) -> Iterator[tuple[str, float]]:
    """``briefcraft ui`` on a free port, the offline default in a fresh data dir; yields (URL, start-up seconds)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFCRAFT_")}
    env |= {"BRIEFCRAFT_DATA_DIR": str(home / "data"), "GRADIO_ANALYTICS_ENABLED": "False"}
    log_path = home / "server.log"
    exe = str(Path(sys.executable).with_name("briefcraft"))
    with log_path.open("wb") as log:
        started = time.perf_counter()
        # cwd: the temp dir, so no .env of the checkout is read
        process = subprocess.Popen([exe, "ui", "--port", str(port)], cwd=home, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            while not _answers(port):
                if process.poll() is not None or time.perf_counter() - started > STEP_TIMEOUT_S:
                    raise SystemExit(f"briefcraft ui did not answer (exit code {process.poll()}):\n"
                                     f"{log_path.read_text(errors='replace')[-4000:]}")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/", time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGINT)  # Ctrl+C, as a person stops the studio
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _first_response_runs(url: str, repeat: int) -> tuple[list[dict[str, Any]], float]:
    """The runs' probe results, and the CPU seconds of the processes under this one (taken before they end)."""
    brief = SAMPLE.read_text(encoding="utf-8")
    runs = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        for number in range(1, repeat + 1):
            context, page = await _new_page(browser)
            ready = await _open(page, url)
            await page.locator("#brief-input textarea").fill(brief)
            result = await _interact(
                page, page.locator("#brief-send"),
                {"user": USER_SHOWN, "step": STEP_SHOWN, "preview": PREVIEW_SHOWN, "waits": WAITS},
                done="waits", timeout_s=RUN_TIMEOUT_S, also_s=30, steps=True, failed_in="#brief-chat",
            )
            result |= {"run": number, "page_ready": ready,
                       "first_step_title": result["steps"][0]["title"] if result["steps"] else None}
            runs.append(result)
            print(f"run {number}: " + ", ".join(f"{k} {_fmt(v)} s" for k, v in result["marks"].items()),
                  file=sys.stderr, flush=True)
            await context.close()
        children_cpu = _descendants_cpu()
        await browser.close()
    return runs, children_cpu


def _first_response_report(startup: float, runs: list[dict[str, Any]]) -> str:
    columns = [("step", "first step message"), ("preview", "first preview on screen"),
               ("waits", "waits for approval")]
    rows = [[str(r["run"]), _fmt(r["page_ready"]), *(_fmt(r["marks"].get(k)) for k, _ in columns),
             str(r["first_step_title"]), f"{r['long_tasks']} / {r['longest_task'] * 1000:.0f}"] for r in runs]

    def med(key: str) -> str:
        return _fmt(median([r["marks"][key] for r in runs if r["marks"].get(key) is not None]))

    rows.append(["**median**", _fmt(median([r["page_ready"] for r in runs])), *(f"**{med(k)}**" for k, _ in columns),
                 "", ""])
    streamed = [r["marks"].get("preview") is not None and r["marks"]["preview"] < r["marks"]["waits"] for r in runs]
    how = ("streamed: the first preview showed before the run reached review" if all(streamed) else
           "at the end: the previews showed with the run's last update" if not any(streamed) else
           f"mixed: streamed in {sum(streamed)} of {len(runs)} runs")
    titles: dict[str, dict[str, list[float]]] = {}  # a step that runs again (compliance's autofix) is numbered
    for run in runs:
        count: dict[str, int] = {}
        for step in run["steps"]:
            count[step["title"]] = count.get(step["title"], 0) + 1
            name = step["title"] + (f" ({count[step['title']]})" if count[step["title"]] > 1 else "")
            seen = titles.setdefault(name, {"shown": [], "done": []})
            seen["shown"].append(step["shown"])
            if step["done"] is not None:
                seen["done"].append(step["done"])
    step_rows = [[title, str(len(t["shown"])), _fmt(median(t["shown"])), _fmt(median(t["done"]))]
                 for title, t in titles.items()]
    return "\n".join([
        f"server start-up (process start -> HTTP 200 on /): **{startup:.2f} s**",
        "",
        markdown_table(["run", "page ready (s)", *(f"{label} (s after Send)" for _, label in columns), "first step",
                "page tasks > 50 ms: count / longest (ms)"], rows),
        "",
        f"previews: {how}",
        "",
        "Steps as the chat showed them (median over the runs that had the step, seconds after Send; (2) is a "
        "step's second run):",
        "",
        markdown_table(["step", "runs", "message shown", "message done"], step_rows),
    ])


def first_response(repeat: int) -> dict[str, Any]:
    """Mode A: time to the first progress message and first preview with the default offline studio."""
    machine, usage = _machine(), _Usage()
    with tempfile.TemporaryDirectory(prefix="bench-studio-") as folder, _briefcraft_ui(Path(folder)) as (url, up):
        print(f"briefcraft ui answered after {up:.2f} s at {url}", file=sys.stderr, flush=True)
        runs, children_cpu = asyncio.run(_first_response_runs(url, repeat))
    used = usage.report(children_cpu)
    print(f"## first-response: `briefcraft ui` (offline default, local model), sample brief, {repeat} run(s)\n")
    print(_first_response_report(up, runs))
    print(f"\n{_Usage.line(used)}\n\n{_version(machine)}")
    return {"mode": "first-response", "repeat": repeat, "startup_s": up, "runs": runs, "usage": used,
            "machine": machine}


# --- concurrent ----------------------------------------------------------------------------------------

#: (interaction, measure) rows of the concurrent table, in session order, with what each measures.
MEASURES = {
    ("open", "ready"): "page load -> brief box on screen (measured from Python)",
    ("send", "first"): "click Send -> own message in the chat (the handler's first update)",
    ("send", "step"): "click Send -> first step message",
    ("send", "done"): "click Send -> 'open the Review tab'",
    ("send", "queue"): "queue wait of the send event (its first queue message -> process start)",
    ("review tab", "shown"): "click Review -> tab shown",
    ("review tab", "done"): "click Review -> waiting threads listed (event completed)",
    ("load", "first"): "click Load -> status line",
    ("load", "done"): "click Load -> items rendered",
    ("submit", "first"): "click Submit -> first progress line",
    ("submit", "done"): "click Submit -> 'is done'",
    ("submit", "queue"): "queue wait of the submit event (its first queue message -> process start)",
    ("runs tab", "done"): "click Runs -> table lists the thread",
    ("refresh", "done"): "click Refresh -> runs event completed",
}


def _queue_wait(result: dict[str, Any]) -> float | None:
    """Queue wait of the event the click caused (the first it joined): from the queue's first message about it
    (its place in the queue, sent when it joins) to its start, both read from one event stream. Not from the join
    request: the page opens that stream after joining, so the first message can arrive late without any wait."""
    first = result["events"][0] if result["events"] else None
    if first is None or first["starts"] is None:
        return None
    return float(first["starts"] - (first["queued"] if first["queued"] is not None else first["join"]))


class _Log:
    """Every sample (interaction, measure, seconds) and every interaction's raw probe result, by user and round."""

    def __init__(self) -> None:
        self.samples: list[dict[str, Any]] = []
        self.interactions: list[dict[str, Any]] = []
        self.leaks: list[str] = []

    def add(self, user: int, round_: int, kind: str, result: dict[str, Any], measures: tuple[str, ...],
            *, queue: bool = False) -> None:
        self.interactions.append({"user": user, "round": round_, "kind": kind, **result})
        for measure in measures:
            self.note(user, round_, kind, measure, result["marks"].get(measure))
        if queue:
            self.note(user, round_, kind, "queue", _queue_wait(result))

    def note(self, user: int, round_: int, kind: str, measure: str, seconds: float | None) -> None:
        self.samples.append({"user": user, "round": round_, "kind": kind, "measure": measure, "seconds": seconds})

    def values(self, kind: str, measure: str) -> list[float]:
        return [s["seconds"] for s in self.samples
                if (s["kind"], s["measure"]) == (kind, measure) and s["seconds"] is not None]


async def _session(browser: Browser, url: str, user: int, rounds: int, brief: str, log: _Log) -> None:
    """One user's rounds, each on a fresh page: brief, review (approve all), runs."""
    for round_ in range(1, rounds + 1):
        context, page = await _new_page(browser)
        stage = "open"
        try:
            log.note(user, round_, "open", "ready", await _open(page, url))
            stage = "send"
            await page.locator("#brief-input textarea").fill(brief)
            sent = await _interact(page, page.locator("#brief-send"),
                                   {"first": USER_SHOWN, "step": STEP_SHOWN, "done": WAITS, "settled": "B.settled()"},
                                   done="done", timeout_s=STEP_TIMEOUT_S, also_s=5, failed_in="#brief-chat")
            log.add(user, round_, "send", sent, ("first", "step", "done"), queue=True)
            chat = _thread_ids(await page.locator("#brief-chat").inner_text())
            if len(chat) != 1:
                log.leaks.append(f"user {user} round {round_}: the chat names threads {sorted(chat)}")
            thread = min(chat, default="")

            stage = "review tab"
            tab = await _interact(page, page.get_by_role("tab", name="Review"),
                                  {"shown": "B.visible('#review-load')", "done": "B.settled()"},
                                  done="done", timeout_s=STEP_TIMEOUT_S, also_s=5)
            log.add(user, round_, "review tab", tab, ("shown", "done"))
            stage = "pick"
            await page.locator("#review-thread input").fill(thread)
            await page.get_by_role("option", name=re.compile(thread)).click()
            stage = "load"
            loaded = await _interact(
                page, page.locator("#review-load"),
                {"first": f"B.text('#review-status').includes({json.dumps(thread)})",
                 "done": "B.visible('#decision-0')"},
                done="done", timeout_s=STEP_TIMEOUT_S, also_s=5)
            log.add(user, round_, "load", loaded, ("first", "done"))
            stage = "approve"
            for i in range(await page.locator("[id^=decision-]").count()):
                await page.locator(f"#decision-{i}").get_by_label("approve").check()
            stage = "submit"
            submitted = await _interact(
                page, page.locator("#review-submit"),
                {"first": "B.text('#review-status').includes('Decisions on thread')",
                 "done": "B.text('#review-status').includes('is done')", "settled": "B.settled()"},
                done="done", timeout_s=STEP_TIMEOUT_S, also_s=5, failed_in="#review-status")
            log.add(user, round_, "submit", submitted, ("first", "done"), queue=True)
            status = _thread_ids(await page.locator("#review-status").inner_text())
            if status != {thread}:
                log.leaks.append(f"user {user} round {round_}: the review status names threads {sorted(status)}, "
                                 f"not only {thread}")

            stage = "runs tab"
            runs = await _interact(page, page.get_by_role("tab", name="Runs"),
                                   {"done": f"B.text('#runs-table').includes({json.dumps(thread)})"},
                                   done="done", timeout_s=STEP_TIMEOUT_S)
            log.add(user, round_, "runs tab", runs, ("done",))
            stage = "refresh"
            refreshed = await _interact(page, page.locator("#runs-refresh"), {"done": "B.settled()"},
                                        done="done", timeout_s=STEP_TIMEOUT_S)
            log.add(user, round_, "refresh", refreshed, ("done",))
        except Exception as error:
            raise RuntimeError(f"round {round_}, {stage}: {(str(error).splitlines() or [''])[0]}") from error
        finally:
            await context.close()


async def _concurrent_sessions(url: str, users: int, rounds: int) -> tuple[_Log, float, list[str], float]:
    """The log, the wall seconds of all sessions, failed sessions, and the browser's CPU seconds."""
    brief = SAMPLE.read_text(encoding="utf-8")
    log = _Log()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(_session(browser, url, user, rounds, brief, log)
                                          for user in range(1, users + 1)), return_exceptions=True)
        wall = time.perf_counter() - started
        children_cpu = _descendants_cpu()
        await browser.close()
    failures = [f"user {n}: {type(o).__name__}: {(str(o).splitlines() or [''])[0]}"
                for n, o in enumerate(outcomes, 1) if isinstance(o, BaseException)]
    return log, wall, failures, children_cpu


def _concurrent_report(log: _Log, users: int, rounds: int, concurrency: int, wall: float,
                       failures: list[str]) -> str:
    rows = []
    for (kind, measure), what in MEASURES.items():
        values = log.values(kind, measure)
        rows.append([kind, what, str(len(values)), _fmt(median(values), 1000, 0), _fmt(p95(values), 1000, 0),
                     _fmt(max(values) if values else None, 1000, 0)])
    parts: dict[str, dict[str, list[float]]] = {}
    for it in log.interactions:
        if not it["events"]:
            continue
        event = it["events"][0]  # the one the click caused; a Load's item render and the like come after
        first = event["queued"] if event["queued"] is not None else event["starts"]
        spans = {"click -> join": (0.0, event["join"]), "join -> first queue message": (event["join"], first),
                 "queue wait": (first, event["starts"]), "run": (event["starts"], event["completed"])}
        durations = parts.setdefault(it["kind"], {name: [] for name in spans})
        for name, (begin, end) in spans.items():
            if begin is not None and end is not None:
                durations[name].append(end - begin)
    breakdown = [[kind, *(f"{_fmt(median(v), 1000, 0)} / {_fmt(p95(v), 1000, 0)}" for v in durations.values())]
                 for kind, durations in parts.items()]
    briefs = len(log.values("submit", "done"))
    return "\n".join([
        f"{users} users x {rounds} rounds, ui_concurrency={concurrency}, fast fake chat model; "
        f"wall {wall:.1f} s for {briefs} briefs taken to the pack: **{briefs / wall * 60:.1f} briefs/min**",
        "",
        markdown_table(["interaction", "measured", "n", "p50 (ms)", "p95 (ms)", "max (ms)"], rows),
        "",
        "Where the time goes: the Gradio event each click caused, p50 / p95 in ms (run: process start -> its "
        "completion message in the page):",
        "",
        markdown_table(["interaction", "click -> join request", "join -> first queue message", "queue wait", "run"],
               breakdown),
        "",
        f"page main-thread tasks over 50 ms after the clicks: {sum(it['long_tasks'] for it in log.interactions)} "
        f"in {len(log.interactions)} interactions, longest "
        f"{max((it['longest_task'] for it in log.interactions), default=0) * 1000:.0f} ms",
        "",
        "cross-thread leakage: " + ("; ".join(log.leaks) if log.leaks else
                                    "none (each chat and review status names only its own thread)"),
        *(["failed sessions: " + "; ".join(failures)] if failures else []),
    ])


def concurrent(users: int, rounds: int, ui_concurrency: int | None) -> dict[str, Any]:
    """Mode B: UI response times with ``users`` browser users at once on a fast fake model."""
    for name in [n for n in os.environ if n.startswith("BRIEFCRAFT_")]:
        del os.environ[name]  # the default configuration, whatever the caller's shell sets
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported
    machine = _machine()
    with tempfile.TemporaryDirectory(prefix="bench-studio-") as folder:
        data_dir = Path(folder) / "data"
        os.environ["GRADIO_TEMP_DIR"] = str(data_dir / "gradio")  # as launch() does
        from briefcraft.graphs.brief_graph import build_graph
        from briefcraft.memory.store import DefaultBrandMemory
        from briefcraft.settings import Settings
        from briefcraft.ui.studio import build_studio

        settings = Settings(_env_file=None, data_dir=data_dir)
        if ui_concurrency is not None:
            settings = settings.model_copy(update={"ui_concurrency": ui_concurrency})
        data_dir.mkdir(parents=True)
        demo = build_studio(settings, graph=build_graph(settings, chat_model=FastChat(),
                                                        memory=DefaultBrandMemory()))
        port = _free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                    allowed_paths=[str(data_dir.resolve())], ssr_mode=False, footer_links=[])
        usage, url = _Usage(), f"http://127.0.0.1:{port}/"
        try:
            log, wall, failures, children_cpu = asyncio.run(_concurrent_sessions(url, users, rounds))
        finally:
            demo.close()
        used = usage.report(children_cpu)
    print(f"## concurrent: {users} browser users, {rounds} round(s) each\n")
    print(_concurrent_report(log, users, rounds, settings.ui_concurrency, wall, failures))
    print(f"\n{_Usage.line(used)}\n\n{_version(machine)}")
    return {"mode": "concurrent", "users": users, "rounds": rounds, "ui_concurrency": settings.ui_concurrency,
            "wall_s": wall, "failures": failures, "leaks": log.leaks, "usage": used, "samples": log.samples,
            "interactions": log.interactions, "machine": machine}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen mode; print its markdown table and return its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    first = modes.add_parser("first-response", help="the default offline studio: first step message and preview")
    first.add_argument("--repeat", type=int, default=3, help="briefs sent, each on a fresh page")
    many = modes.add_parser("concurrent", help="many browser users at once on a fast fake model")
    many.add_argument("--users", type=int, default=10)
    many.add_argument("--rounds", type=int, default=3, help="sessions per user, each on a fresh page")
    many.add_argument("--ui-concurrency", type=int, help="graph runs at once (default: the setting's default)")
    for mode in (first, many):
        mode.add_argument("--json", type=Path, help="write every sample here")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        parser.error(f"{CHROMIUM} is missing: apt-get install chromium")
    if args.mode == "first-response":
        if args.repeat < 1:
            parser.error(f"--repeat {args.repeat}: allowed >= 1")
        figures = first_response(args.repeat)
    else:
        if args.users < 1 or args.rounds < 1:
            parser.error(f"--users {args.users} --rounds {args.rounds}: allowed >= 1 each")
        if args.ui_concurrency is not None and not 1 <= args.ui_concurrency <= 64:
            parser.error(f"--ui-concurrency {args.ui_concurrency}: allowed 1 to 64 (BRIEFCRAFT_UI_CONCURRENCY)")
        figures = concurrent(args.users, args.rounds, args.ui_concurrency)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()
