"""Provider faults: the one retry layer against a fault-injecting proxy in front of llama.cpp's real server.

Each test counts the requests the proxy received, so stacked retries (SDK under tenacity under the graph) would
show up as extra requests.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import GUIDELINES, free_port, start_chroma
from fault_server import FaultServer
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from briefcraft.agents.llm import ModelCall, invoke_structured
from briefcraft.agents.models import make_chat_model, remote_policy
from briefcraft.errors import MemoryStoreError, ProviderError, StructuredOutputError
from briefcraft.evals.fakes import FastChat
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.memory.store import ChromaBrandMemory
from briefcraft.pricing import load_pricing, summarize
from briefcraft.remote import RemotePolicy, transient
from briefcraft.schemas import CreativeBrief
from briefcraft.settings import Settings
from briefcraft.tools.audit import FailedSpend
from briefcraft.ui.cli import main

pytestmark = pytest.mark.llm

KEY = "sk-canary-7d1e2f3a4b5c6d7e8f90"
CHAT = "/v1/chat/completions"
TIMEOUT = 8.0
"""Seconds a client waits: above a short answer's time on a busy 2-core machine; a "timeout" fault hangs longer."""


class _Answer(BaseModel):
    colour: str


@pytest.fixture
def proxy(llama_server_url: str) -> Iterator[FaultServer]:
    with FaultServer(llama_server_url, hang_s=TIMEOUT + 1) as server:
        yield server


def _settings(settings: Settings, proxy: FaultServer, **overrides: Any) -> Settings:
    return settings.model_copy(update={
        "llm": "openai-compatible:smollm2", "llm_base_url": proxy.url, "llm_api_key": KEY, "llm_timeout_s": TIMEOUT,
        "provider_max_attempts": 4, "provider_max_wait_s": 5.0, "llm_max_tokens": 24, **overrides,
    })


def _ask(settings: Settings) -> tuple[_Answer, int | None]:
    model = make_chat_model(settings)
    who = ModelCall.of(model, provider=settings.llm_provider, method="function_calling",
                       remote=remote_policy(settings))
    answer, events = invoke_structured(
        model, _Answer, [SystemMessage("Answer in JSON."), HumanMessage("Name one colour.")], who=who, node="test",
    )
    return answer, events[-1].attempts


def _chat_requests(proxy: FaultServer) -> list[str]:
    return [fault for path, fault in proxy.seen if path == CHAT]


@pytest.mark.parametrize("faults", [
    ("429", "429"), ("500",), ("timeout",), ("malformed",), ("halfway",), ("500", "timeout", "halfway"),
])
def test_transient_faults_are_retried_by_one_layer(settings: Settings, proxy: FaultServer,
                                                   faults: tuple[str, ...]) -> None:
    proxy.plan(*faults)
    answer, attempts = _ask(_settings(settings, proxy))
    assert answer.colour
    assert attempts == len(faults) + 1
    assert _chat_requests(proxy) == [*faults, "ok"]  # no SDK retry under ours: one request per attempt


def test_retry_after_is_waited_for(settings: Settings, llama_server_url: str) -> None:
    with FaultServer(llama_server_url, retry_after="1", hang_s=TIMEOUT + 1) as proxy:
        proxy.plan("429", "429")
        started = time.monotonic()
        _, attempts = _ask(_settings(settings, proxy))
        assert time.monotonic() - started >= 2.0  # two waits of the server's Retry-After: 1
        assert attempts == 3


def test_attempts_are_bounded_and_the_error_is_one_line(settings: Settings, proxy: FaultServer) -> None:
    proxy.plan(*["500"] * 6)
    with pytest.raises(ProviderError) as caught:
        _ask(_settings(settings, proxy, provider_max_attempts=3))
    message = str(caught.value)
    assert message.startswith("openai-compatible:smollm2 failed 3 time(s) in ")
    assert message.endswith("last with HTTP 500: The server had an error while processing your request "
                            "(BRIEFCRAFT_PROVIDER_MAX_ATTEMPTS=3)")
    assert "\n" not in message
    assert _chat_requests(proxy) == ["500"] * 3


def test_timeouts_exhausted_name_the_settings_to_check(settings: Settings, proxy: FaultServer) -> None:
    proxy.plan("timeout", "timeout")
    with pytest.raises(ProviderError, match=r"failed 2 time\(s\) in .*last with no reply from "
                                            r"http://127\.0\.0\.1:\d+/v1/chat/completions within the timeout "
                                            r"\(BRIEFCRAFT_PROVIDER_MAX_ATTEMPTS=2\); check the network, "
                                            r"BRIEFCRAFT_LLM_TIMEOUT_S and BRIEFCRAFT_LLM_BASE_URL$"):
        _ask(_settings(settings, proxy, provider_max_attempts=2))


@pytest.mark.parametrize(("fault", "message"), [
    ("401", "openai-compatible:smollm2 rejected the API key (HTTP 401); not retried: check BRIEFCRAFT_LLM_API_KEY"),
    ("400", "openai-compatible:smollm2 refused the request (HTTP 400: Invalid value for 'temperature': must be a "
            "number); not retried: check BRIEFCRAFT_LLM (the model name) and BRIEFCRAFT_LLM_BASE_URL"),
    ("404", "openai-compatible:smollm2 refused the request (HTTP 404: The model 'no-such-model' does not exist); "
            "not retried: check BRIEFCRAFT_LLM (the model name) and BRIEFCRAFT_LLM_BASE_URL"),
])
def test_errors_retrying_cannot_fix_fail_at_once(settings: Settings, proxy: FaultServer, fault: str,
                                                  message: str) -> None:
    proxy.plan(fault, "500", "500")
    with pytest.raises(ProviderError) as caught:
        _ask(_settings(settings, proxy))
    assert str(caught.value) == message
    assert KEY[:8] not in str(caught.value)
    assert _chat_requests(proxy) == [fault]


def test_the_local_model_has_no_retry_layer(settings: Settings) -> None:
    assert remote_policy(settings) is None


def test_what_is_transient() -> None:
    import openai

    assert transient(openai.APITimeoutError(request=_request()))
    assert transient(openai.APIConnectionError(request=_request()))
    assert not transient(ValueError("a bug is not retried"))
    assert not transient(KeyError("neither is this"))


def _request() -> Any:
    import httpx

    return httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")


def test_a_run_stopped_by_faults_resumes_from_its_checkpoint(settings: Settings, proxy: FaultServer,
                                                            sample_brief: str, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Faults outlast the attempts: the run fails that step with the one-line error, a decision for it is refused
    (nothing waits for one), and a retry once the server is healthy goes on from the checkpoint to review."""
    remote = _settings(settings, proxy, provider_max_attempts=2, compliance_autofix=False, llm_timeout_s=120.0,
                       llm_max_tokens=settings.llm_max_tokens)
    graph = build_graph(remote)
    proxy.plan("500", "500")
    with pytest.raises(ProviderError, match=r"^openai-compatible:smollm2 failed 2 time\(s\)"):
        runner.start(graph, sample_brief, thread_id="faulty", max_brief_chars=remote.max_brief_chars, user="maya")
    failed = runner.status(graph, "faulty")
    assert failed.stage == "failed"
    assert failed.error is not None and failed.error.startswith("ProviderError: openai-compatible:smollm2 failed 2 time(s) in ")
    assert _chat_requests(proxy) == ["500", "500"]
    monkeypatch.setenv("BRIEFCRAFT_DATA_DIR", str(remote.data_dir))
    assert main(["resume", "faulty", "--approve", "all"]) == 2
    assert capsys.readouterr().err == (
        "briefcraft: error: thread 'faulty' is failed: --approve does not apply; nothing waits for a decision (retry "
        "it with: briefcraft resume faulty)\n")
    resumed = runner.resume(graph, "faulty", None, user="maya")
    assert resumed.stage == "waiting_for_approval"
    assert set(_chat_requests(proxy)[2:]) == {"ok"}


def test_a_step_that_fails_after_paid_calls_bills_them_once_when_the_thread_goes_on(
        settings: Settings, proxy: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Two billed replies that fit no schema (the answer, then the repair) fail the copy step. What they cost is
    kept, and once the retried thread goes on it is in the audit, the cost, the pack and the ledger, once."""
    table = load_pricing().model_dump(mode="json")
    table["chat"]["models"]["openai-compatible"] = {"*": {"input": 100.0, "output": 100.0}}
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text(yaml.safe_dump(table), encoding="utf-8")
    remote = _settings(settings, proxy, compliance_autofix=False, compliance_llm_review=False, llm_timeout_s=120.0,
                       llm_max_tokens=settings.llm_max_tokens, pricing_file=pricing)
    graph = build_graph(remote)
    brief = CreativeBrief(product="Oat cold brew", channels=["x_post"], deliverables=["copy"],
                          mandatory_elements=["Contains oats"])
    proxy.plan("off-schema", "off-schema")
    with pytest.raises(StructuredOutputError, match="gave no valid XPostCopy after one repair"):
        runner.start(graph, brief, thread_id="t1", max_brief_chars=remote.max_brief_chars, user="maya")
    assert _chat_requests(proxy) == ["off-schema", "off-schema"]
    failed = runner.status(graph, "t1")
    assert failed.stage == "failed" and failed.cost is not None and failed.cost.calls == 0  # nothing committed
    kept = FailedSpend(remote.audit_dir, "t1").unrecorded([])
    assert [(e.kind, e.node, e.item_id) for e in kept] == [("model_call", "write_copy", "copy-x_post-1")] * 2
    assert all(e.input_tokens and e.output_tokens and e.cost_usd for e in kept)  # the server's usage, priced
    assert all((e.comment or "").startswith("in a step that failed: StructuredOutputError: openai-compatible:"
                                            "smollm2 gave no valid XPostCopy") for e in kept)
    shown = runner.status(graph, "t1", audit_dir=remote.audit_dir).cost  # as the CLI and the studio show it
    assert shown == summarize(kept) and shown.calls == 2 and shown.total_usd > 0
    monkeypatch.setenv("BRIEFCRAFT_DATA_DIR", str(remote.data_dir))
    assert main(["audit", "verify", "t1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"2 call(s) of failed steps, {shown.line()}, are kept in {FailedSpend(remote.audit_dir, 't1').path}; they go "
        "into the audit when the thread goes on")

    waiting = runner.resume(graph, "t1", None, user="maya")
    assert waiting.stage == "waiting_for_approval" and waiting.cost is not None
    audit = graph.get_state({"configurable": {"thread_id": "t1"}}).values["audit"]
    calls = [e for e in audit if e.kind == "model_call"]
    assert [e for e in calls if e in kept] == kept and len(calls) > 2  # besides the retried step's own
    assert waiting.cost.calls == len(calls) and waiting.cost.total_usd == pytest.approx(
        sum(e.cost_usd or 0.0 for e in calls), abs=1e-6)

    done = runner.resume(graph, "t1", runner.approve_all(waiting), user="maya")
    assert done.stage == "done" and done.cost == waiting.cost  # export, the gates and seal_ledger add them no more
    audit = graph.get_state({"configurable": {"thread_id": "t1"}}).values["audit"]
    assert [e for e in audit if e in kept] == kept
    manifest = json.loads((Path(done.pack or "") / "manifest.json").read_text())
    assert manifest["cost"]["total_usd"] == done.cost.total_usd
    assert manifest["cost"]["by_item"]["copy-x_post-1"] == pytest.approx(done.cost.total_usd, abs=1e-6)
    check, events = runner.verify_ledger(graph, "t1", remote.audit_dir)
    assert check.valid and check.entries == len(events) == len(audit)
    assert FailedSpend(remote.audit_dir, "t1").unrecorded(audit) == []


def test_the_policy_passes_results_and_other_errors_through() -> None:
    policy = RemotePolicy(service="s", key_setting="K", request_settings="R", connect_settings="C", attempts=1)
    assert policy.call(lambda: 42) == (42, 1)
    with pytest.raises(KeyError):  # not a remote failure: it keeps its own type
        policy.call(lambda: {}["missing"])


def test_a_chroma_server_down_fails_the_step_and_the_run_resumes_when_it_is_back(
    settings: Settings, sample_brief: str, tmp_path: Path
) -> None:
    """The memory server goes away before brand recall and again while the run waits at review: each time the step
    that needs it fails with one line naming the setting, and the run goes on from there once it is back."""
    port, where = free_port(), tmp_path / "chroma"
    where.mkdir()
    server = start_chroma(where, port)
    try:
        remote = settings.model_copy(update={"memory_location": f"http://127.0.0.1:{port}"})
        guidelines = tmp_path / "guidelines.md"
        guidelines.write_text(GUIDELINES)
        with ChromaBrandMemory(remote) as memory:
            memory.add(guidelines, brand="Northbound")
            graph = build_graph(remote, chat_model=FastChat(), memory=memory)
            server.terminate()
            server.wait(timeout=30)
            unreachable = r"^brand memory at http://127\.0\.0\.1:\d+ is not reachable \(.*\); start it .* or fix " \
                          r"BRIEFCRAFT_MEMORY_LOCATION\n"
            with pytest.raises(MemoryStoreError, match=unreachable):
                runner.start(graph, sample_brief, thread_id="m1", max_brief_chars=remote.max_brief_chars, user="maya")
            failed = runner.status(graph, "m1")
            assert failed.stage == "failed"
            assert failed.error is not None  # the line the run showed
            assert re.match(unreachable, failed.error.removeprefix("MemoryStoreError: ") + "\n")
            server = start_chroma(where, port)
            waiting = runner.resume(graph, "m1", None, user="maya")
            assert waiting.stage == "waiting_for_approval"
            assert waiting.items
            server.terminate()
            server.wait(timeout=30)
            with pytest.raises(MemoryStoreError, match=unreachable):
                runner.resume(graph, "m1", runner.approve_all(waiting), user="dana")
            assert runner.status(graph, "m1").stage == "failed"
            server = start_chroma(where, port)
            done = runner.resume(graph, "m1", None, user="dana")
            assert done.stage == "done"
            assert done.pack is not None and Path(done.pack).exists()
            decisions = [e for e in graph.get_state({"configurable": {"thread_id": "m1"}}).values["audit"]
                         if e.kind == "human_decision"]
            assert [(e.actor, e.decision) for e in decisions] == [("dana", "approve")] * len(waiting.items)
    finally:
        server.terminate()
        server.wait(timeout=30)
