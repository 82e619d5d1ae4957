"""The brief graph: chat text in, approved and exported campaign pack out.

    intake ─(missing essentials)→ ask_clarification ─→ intake
      └→ recall_brand → plan → budget_work ─Send→ write_copy x channels ┐
                                           └Send→ make_visual x images ┴→ check_compliance → review
    check_compliance ─(copy with errors, once per item)→ budget_fix ─Send→ write_copy ─→ check_compliance
    review → budget_review ─(rejected, rounds left)→ write_copy / make_visual ─→ check_compliance → review
      └→ finalize → export → remember_approved → seal_ledger

``review`` and ``ask_clarification`` pause with ``interrupt()``, and so does a budget gate when the calls it
would let through would take the brief over its budget; export reads approval from the recorded decisions and
is reachable only through ``review``. The sequential nodes append the thread's committed
audit events to its hash-chained ledger file (``DATA_DIR/audit/THREAD.jsonl``); ``seal_ledger`` writes the last.

A step that fails leaves no state update, so the nodes that call models or renderers keep what they paid for before
failing (``DATA_DIR/audit/failed-steps/THREAD.jsonl``); the budget gates, ``check_compliance``, ``export`` and
``seal_ledger`` put those calls into the audit, so that the budget, the pack's cost and the ledger count them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial, wraps
from pathlib import Path
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_config
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore
from langgraph.types import Send
from pydantic import ValidationError

from briefcraft.agents.art_director import (
    ImageRenderer,
    in_threads,
    make_preview,
    make_renderer,
    render_finals,
    stamp_finals,
)
from briefcraft.agents.compliance import autofix_feedback, check_bundle
from briefcraft.agents.copywriter import write_channel_copy
from briefcraft.agents.intake import brief_line, clarification_line, clarifying_question, read_brief
from briefcraft.agents.llm import ModelCall
from briefcraft.agents.models import make_chat_model, remote_policy
from briefcraft.agents.planner import plan_subtasks
from briefcraft.agents.spend import collecting
from briefcraft.channels import get_channel
from briefcraft.errors import AuditError, BriefError, DecisionError
from briefcraft.graphs.checkpoints import ALLOWLIST, sqlite_checkpoints
from briefcraft.graphs.review import (
    BUDGET_GATES,
    Item,
    ask,
    budget_request,
    clarification_request,
    item_state,
    read_budget,
    read_clarification,
    read_review,
    review_request,
)
from briefcraft.graphs.state import BriefInput, BriefState, CopyTask, VisualTask
from briefcraft.memory.store import BrandMemory, open_memory
from briefcraft.pricing import CostSummary, PricingTable, load_pricing, summarize
from briefcraft.schemas import (
    AuditEvent,
    BrandContext,
    Budget,
    ComplianceReport,
    CopyVariant,
    CreativeBrief,
    ImageAsset,
    LedgerHead,
    ReviewDecision,
    Subtask,
    brand_key,
    validation_message,
)
from briefcraft.settings import Settings, load_settings
from briefcraft.tools.audit import FailedSpend, Ledger, idempotency_key, item_hash, ledger_path
from briefcraft.tools.checks import check_copy
from briefcraft.tools.export import write_pack
from briefcraft.tools.image_checks import SafetyChecker
from briefcraft.tools.provenance import signer_files

__all__ = ["Deps", "build_graph"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deps:
    """The backends and settings the nodes use, bound once when the graph is built."""

    settings: Settings
    chat_model: BaseChatModel
    who: ModelCall
    renderer: ImageRenderer
    memory: BrandMemory
    safety: SafetyChecker | None
    pricing: PricingTable
    confine_packs: bool


def _thread(config: RunnableConfig) -> str:
    return str(config.get("configurable", {}).get("thread_id", "unthreaded"))


def _pack_dir(state: BriefState, config: RunnableConfig, deps: Deps) -> Path:
    """Where the pack goes: the run's ``out_dir``, else DATA_DIR/packs/THREAD. ``BriefError`` for an ``out_dir``
    outside DATA_DIR/packs when the graph confines packs (a served graph: its clients choose no paths on the
    server)."""
    packs = deps.settings.packs_dir
    if not state.get("out_dir"):
        return packs / _thread(config)
    out_dir = Path(state["out_dir"])
    if deps.confine_packs and not out_dir.resolve().is_relative_to(packs.resolve()):
        raise BriefError(f"out_dir {str(out_dir)!r} is outside {packs}: this graph writes packs only there; leave "
                         "out_dir out")
    return out_dir


def _sync_ledger(state: BriefState, config: RunnableConfig, deps: Deps, also: Sequence[AuditEvent] = ()
                 ) -> LedgerHead:
    """Append the thread's committed audit events (then ``also``) to its ledger (idempotent: a re-run node appends
    nothing)."""
    return Ledger(ledger_path(deps.settings.audit_dir, _thread(config))).sync([*state.get("audit", []), *also])


def _keeping_spend(node: Callable[..., dict[str, Any]], deps: Deps) -> Callable[..., dict[str, Any]]:
    """``node``, keeping the calls it paid for when it fails (``tools.audit.FailedSpend``): LangGraph drops a failed
    step's update, and the audit events of those calls with it. ``node``'s signature stays what LangGraph sees."""
    @wraps(node)
    def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
        with collecting() as spent:
            try:
                return node(*args, **kwargs)
            except GraphBubbleUp:  # an interrupt or a command: not a failure
                raise
            except Exception as error:
                if spent:
                    _keep_spent(spent, error, deps)
                raise
    return run


def _keep_spent(spent: list[AuditEvent], error: Exception, deps: Deps) -> None:
    config = get_config()
    lines = str(error).splitlines()
    failure = f"{type(error).__name__}: {lines[0]}" if lines and lines[0] else type(error).__name__
    try:
        FailedSpend(deps.settings.audit_dir, _thread(config)).add(
            str(config.get("configurable", {}).get("checkpoint_ns", "")), spent, failure)
    except (OSError, AuditError) as kept:  # the step's own error is the one to report; this one goes to the log
        _log.warning("the %d paid call(s) of a failed step were not kept: %s", len(spent), kept)


def _unbilled(state: BriefState, config: RunnableConfig, deps: Deps) -> list[AuditEvent]:
    """The calls the thread's failed steps paid for that its audit does not hold yet."""
    return FailedSpend(deps.settings.audit_dir, _thread(config)).unrecorded(state.get("audit", []))


#: The audit kinds that record a side effect (a model or image call, a signature, an export): each carries a key.
_KEYED = frozenset({"model_call", "render", "provenance", "export"})


def _keyed(events: list[AuditEvent]) -> list[AuditEvent]:
    """The running node's events, each side effect with its idempotency key (``tools.audit.idempotency_key``): the
    node's LangGraph task is the same when the step re-runs after a crash, so the keys are too."""
    config = get_config()
    task = str(config.get("configurable", {}).get("checkpoint_ns", ""))
    thread = _thread(config)
    return [event.model_copy(update={"idempotency_key": idempotency_key(thread, task, index)})
            if event.kind in _KEYED else event for index, event in enumerate(events)]


def _check(state: BriefState, deps: Deps, copies: list[CopyVariant], previews: list[ImageAsset], *,
           llm: bool) -> tuple[ComplianceReport, list[AuditEvent]]:
    review_model = deps.chat_model if llm and deps.settings.compliance_llm_review else None
    return check_bundle(copies, previews, state["brief"], state["brand"], deps.settings, safety=deps.safety,
                        model=review_model, who=deps.who)


def _user(config: RunnableConfig) -> tuple[str, str]:
    configurable = config.get("configurable", {})
    user = configurable.get("user_id") or configurable.get("langgraph_auth_user_id") or "anonymous"
    return str(user), str(configurable.get("user_role", "approver"))


def _rounds(state: BriefState, settings: Settings) -> int:
    """Rewrite rounds per rejected item: the brief's budget, else the setting."""
    limit = state["limits"].max_revision_rounds if "limits" in state else None
    return settings.max_revision_rounds if limit is None else limit


def _live(state: BriefState, max_rounds: int) -> list[Item]:
    """Every item that is still in play (not dropped after its last rewrite round)."""
    items: list[Item] = [*state.get("copy", []), *state.get("images", [])]
    decisions = state.get("decisions", [])
    return [item for item in items if item_state(item, decisions, max_rounds) != "dropped"]


def _approved(state: BriefState, key: Literal["copy", "images"], max_rounds: int) -> list[Any]:
    """The items under ``key`` whose latest revision carries a recorded human approval."""
    decisions = state.get("decisions", [])
    return [item for item in state.get(key, []) if item_state(item, decisions, max_rounds) == "approved"]


def _check_approved(items: Sequence[Item], state: BriefState) -> None:
    """``AuditError`` unless each item's latest decision is an approval the review node recorded in the audit for
    the item's exact content (its sha256): a decision put in the state by other means (``update_state``), or an
    item changed after its approval, never gets exported."""
    decisions = state.get("decisions", [])
    recorded = {(e.item_id, e.revision, e.sha256, e.decision, e.at) for e in state.get("audit", [])
                if e.kind == "human_decision" and e.node == "review"}
    for item in items:
        digest = item_hash(item)
        latest = next((d for d in reversed(decisions) if d.item_id == item.id and d.revision == item.revision), None)
        if latest is None or latest.action not in ("approve", "edit") or \
                (item.id, item.revision, digest, latest.action, latest.at) not in recorded:
            raise AuditError(f"export refused: {item.id!r} revision {item.revision} (sha256 {digest[:16]}) has no "
                             "recorded human approval of its exact content; only what a reviewer approved is exported")


# --- nodes -------------------------------------------------------------------------------------------


def _chat_request(state: BriefState) -> str:
    """The brief from a chat client: the text of the last human message; ``BriefError`` when there is none."""
    said = [m for m in state.get("messages", []) if isinstance(m, HumanMessage)]
    if not said:
        raise BriefError("no brief: give the brief as 'request', or as a human message in 'messages'")
    return said[-1].text


def _as_models(state: BriefState) -> dict[str, Any]:
    """A structured brief and a budget a LangGraph API client gives arrive as JSON objects: their models, or
    ``BriefError`` naming what does not fit (the runner gives the models, which pass as they are)."""
    models: dict[str, Any] = {}
    for key, model in (("brief", CreativeBrief), ("limits", Budget)):
        value = state.get(key)
        if value is not None and not isinstance(value, model):
            if not isinstance(value, Mapping):
                raise BriefError(f"{key} is a {type(value).__name__}; allowed: a JSON object of {model.__name__}'s "
                                 "fields")
            try:
                models[key] = model.model_validate(value)
            except ValidationError as error:
                raise BriefError(f"{key}: {validation_message(error)}") from error
    return models


def intake(state: BriefState, config: RunnableConfig, *, deps: Deps) -> dict[str, Any]:
    """Read the structured brief from the chat text (a brief given directly is taken as it is). The text is
    ``request``, else a chat client's last human message; the brand is ``brand_id``, else the settings' brand."""
    given = _as_models(state)
    _pack_dir(state, config, deps)  # an out_dir the graph will not write to is refused before any work
    if "brief" in state:  # its own budget unless the run gives one (as the runner does)
        own = {} if "limits" in state else {"limits": given.get("brief", state["brief"]).limits}
        return {"missing": [], **given, **own}
    request = state["request"] if "request" in state else _chat_request(state)
    brand = state.get("brand_id") or deps.settings.brand
    brand_key(brand)
    result = read_brief(
        deps.chat_model, request, brand=brand, who=deps.who, max_chars=deps.settings.max_brief_chars,
    )
    update: dict[str, Any] = {"missing": result.missing, "audit": _keyed(result.audit), **given}
    if "request" not in state:
        update["request"] = request
    if result.brief is not None:
        update["brief"] = result.brief
    return update


def ask_clarification(state: BriefState, config: RunnableConfig) -> dict[str, Any]:
    """Pause and ask the marketer for the missing essentials; the answer extends the request."""
    question = clarifying_question(state["missing"], state["request"])
    answer = ask(clarification_request(question, state["missing"]), read_clarification)
    user, role = _user(config)
    event = AuditEvent(kind="clarification", node="ask_clarification", actor=user, role=role, comment=answer)
    return {"request": f"{state['request']}\n{clarification_line(state['missing'], answer)}", "audit": [event]}


def recall_brand(state: BriefState, config: RunnableConfig, *, deps: Deps) -> dict[str, Any]:
    """Recall the brand's voice, palette and rules from brand memory."""
    return {"brand": deps.memory.recall(state["brief"]), "ledger": _sync_ledger(state, config, deps)}


def plan(state: BriefState, *, deps: Deps) -> dict[str, Any]:
    """Split the brief into copy and visual subtasks; tell the chat what is coming."""
    subtasks = plan_subtasks(state["brief"], deps.settings.copy_variants, deps.settings.image_variants)
    kinds = Counter(task.kind for task in subtasks)
    reply = (f"Brief: {brief_line(state['brief'])}. Writing {kinds['copy']} copy and {kinds['visual']} image "
             "variant(s) for your review.")
    if not state["brand"].remembered:  # a chat client shows no recall step: say it here
        reply += f" Brand: {state['brand'].citations[0]}."
    return {"subtasks": subtasks, "messages": [AIMessage(reply)]}


def _rule_errors(copy: CopyVariant, brief: CreativeBrief, brand: BrandContext) -> int:
    """How many rule errors the checks find in ``copy`` (an edit with none is approved as made)."""
    return sum(f.severity == "error" for f in check_copy(copy, brief, brand))


def write_copy(task: CopyTask, *, deps: Deps) -> dict[str, Any]:
    """Write (or rewrite) one channel's copy variant. An automatic fix that leaves no fewer rule errors than the
    draft it was asked to fix is discarded (a small model's rewrite can be worse): the draft goes to review, and the
    audit says why."""
    draft = task["previous"]
    copy, audit = write_channel_copy(
        deps.chat_model, task["subtask"], task["brief"], task["brand"], who=deps.who, previous=draft
    )
    if task.get("autofix") and draft is not None:
        before, after = (_rule_errors(c, task["brief"], task["brand"]) for c in (draft, copy))
        if after >= before:
            audit.append(AuditEvent(
                kind="autofix", node="write_copy", item_id=draft.id, revision=draft.revision,
                comment=f"kept this draft: the automatic fix (revision {copy.revision}) left {after} rule error(s), "
                        f"the draft {before}"))
            copy = draft
    return {"copy": [copy], "audit": _keyed(audit)}


def make_visual(task: VisualTask, *, deps: Deps) -> dict[str, Any]:
    """Render one channel's preview image."""
    asset, events = make_preview(
        deps.renderer, task["subtask"], task["brief"], task["brand"], deps.settings.assets_dir,
        deps.settings.llm_seed, pricing=deps.pricing, font_dirs=(deps.settings.fonts_dir,),
    )
    return {"images": [asset], "audit": _keyed(events)}


def check_compliance(state: BriefState, config: RunnableConfig, *, deps: Deps) -> dict[str, Any]:
    """Check the live copy and previews; copy with rule errors goes back to the copywriter once."""
    rounds = _rounds(state, deps.settings)
    live = _live(state, rounds)
    copies = [i for i in live if isinstance(i, CopyVariant)]
    report, audit = _check(state, deps, copies, [i for i in live if isinstance(i, ImageAsset)], llm=True)
    done = set(state.get("autofixed", []))
    decisions = state.get("decisions", [])
    due = [
        copy for copy in copies
        if copy.author == "model" and copy.id not in done and item_state(copy, decisions, rounds) == "pending"
        and any(f.severity == "error" and f.origin == "rule" for f in report.for_item(copy.id))
    ] if deps.settings.compliance_autofix else []
    audit += [
        AuditEvent(kind="autofix", node="check_compliance", item_id=copy.id, revision=copy.revision,
                   comment=autofix_feedback(report.for_item(copy.id)))
        for copy in due
    ]
    return {"compliance": report, "audit": [*_unbilled(state, config, deps), *_keyed(audit)],
            "autofix": [c.id for c in due],
            "autofixed": [c.id for c in due], "ledger": _sync_ledger(state, config, deps)}


def _apply_edit(item: Item, decision: ReviewDecision, state: BriefState) -> tuple[Item, ReviewDecision]:
    """The edited item as a new revision, and the decision to record: an approval of the new revision
    when the edit passes the checks, else a record on the old one (the new revision goes back to review)."""
    edited = decision.edited or {}  # checked against the item's fields when the decision was read (from_hitl)
    try:
        new = type(item).model_validate(
            {**item.model_dump(), **edited, "id": item.id, "revision": item.revision + 1}
            | ({"author": "human"} if isinstance(item, CopyVariant) else {})
        )
    except ValidationError as error:
        raise DecisionError(f"edit of {item.id!r}: {validation_message(error)}") from error
    clean = not isinstance(new, CopyVariant) or not _rule_errors(new, state["brief"], state["brand"])
    return new, decision.model_copy(update={"revision": new.revision if clean else item.revision})


def review(state: BriefState, config: RunnableConfig, *, deps: Deps) -> dict[str, Any]:
    """Pause with every pending item and its findings; record the reviewer's decisions."""
    decisions = state.get("decisions", [])
    pending = [
        item for item in _live(state, _rounds(state, deps.settings))
        if item_state(item, decisions, _rounds(state, deps.settings)) == "pending"
    ]
    if not pending:
        return {}
    head = _sync_ledger(state, config, deps)  # before the pause, so the ledger is current while a thread waits
    request = review_request(pending, state["compliance"], state.get("audit", []))
    user, role = _user(config)
    recorded: list[ReviewDecision] = []
    audit: list[AuditEvent] = []
    edits: dict[str, list[Any]] = {"copy": [], "images": []}

    def read(response: object) -> list[tuple[Item, ReviewDecision]]:
        decided = read_review(response, request, reviewer=user, role=role)
        return [_apply_edit(item, given, state) if given.action == "edit" else (item, given)
                for item, given in zip(pending, decided, strict=True)]

    for item, (decided_item, decision) in zip(pending, ask(request, read), strict=True):
        if decided_item is not item:
            edits["copy" if isinstance(decided_item, CopyVariant) else "images"].append(decided_item)
        recorded.append(decision)
        audit.append(AuditEvent(
            kind="human_decision", node="review", item_id=decision.item_id, revision=decided_item.revision,
            sha256=item_hash(decided_item), actor=decision.reviewer, role=decision.role, decision=decision.action,
            comment=_decision_comment(decision, state["compliance"]), at=decision.at,
        ))
    return {"decisions": recorded, "audit": audit, "ledger": head, **{k: v for k, v in edits.items() if v}}


#: What each generating node spends, to estimate the calls a gate lets through.
_CALL_KINDS = {"write_copy": "model_call", "make_visual": "render", "finalize": "render"}


def _coming(state: BriefState, upcoming: list[Send] | str, settings: Settings) -> list[str]:
    """The generating nodes the next step runs, one per call: each branch sent, or each approved preview to
    render in full."""
    if isinstance(upcoming, list):
        return [send.node for send in upcoming]
    if upcoming == "finalize":
        return ["finalize"] * len(_approved(state, "images", _rounds(state, settings)))
    return []


def _estimate(audit: list[AuditEvent], calls: list[str]) -> tuple[float, float]:
    """USD and GPU-seconds the calls may take: each as the dearest earlier call of its node, else of its kind (the
    first call of a kind has nothing to go by and counts as free)."""
    paid = [e for e in audit if e.kind in ("model_call", "render") and e.provider != "compositor"]
    cost = gpu = 0.0
    for node in calls:
        same = [e for e in paid if e.node == node] or [e for e in paid if e.kind == _CALL_KINDS[node]]
        cost += max((e.cost_usd or 0.0 for e in same), default=0.0)
        gpu += max((e.gpu_seconds or 0.0 for e in same), default=0.0)
    return cost, gpu


def _over_budget(limits: Budget, spent: CostSummary, calls: list[str], cost: float, gpu: float) -> str | None:
    """Why the calls may not run within ``limits``, or None when they may."""
    if not calls:
        return None
    kinds = Counter(calls)
    what = ", ".join(f"{n} {node.replace('_', ' ')} call(s)" for node, n in kinds.items())
    if limits.max_cost_usd is not None and spent.total_usd + cost > limits.max_cost_usd:
        return (f"the next {what} would take the brief to about ${spent.total_usd + cost:.4f}, over its "
                f"max_cost_usd of ${limits.max_cost_usd:.4f} (spent ${spent.total_usd:.4f})")
    if limits.max_gpu_seconds is not None and spent.gpu_seconds + gpu > limits.max_gpu_seconds:
        return (f"the next {what} would take the brief to about {spent.gpu_seconds + gpu:.1f} GPU-seconds, over its "
                f"max_gpu_seconds of {limits.max_gpu_seconds:g} (spent {spent.gpu_seconds:.1f})")
    return None


def budget_gate(state: BriefState, config: RunnableConfig, *, deps: Deps, name: str,
                upcoming: Callable[[BriefState], list[Send] | str]) -> dict[str, Any]:
    """Before generating: when the calls coming next would take the brief over its budget, pause until someone
    raises it (the thread waits, resumable); the calls run only within the budget in force."""
    calls = _coming(state, upcoming(state), deps.settings)
    failed = _unbilled(state, config, deps)
    audit = [*state.get("audit", []), *failed]
    spent = summarize(audit)
    limits = state.get("limits") or Budget()
    cost, gpu = _estimate(audit, calls)
    user, role = _user(config)
    raised: list[AuditEvent] = []
    while reason := _over_budget(limits, spent, calls, cost, gpu):
        limits = ask(budget_request(reason, limits), partial(read_budget, limits=limits))
        raised.append(AuditEvent(kind="budget", node=name, actor=user, role=role,
                                 comment=f"budget raised to {limits.model_dump_json(exclude_none=True)} ({reason})"))
    update: dict[str, Any] = {"audit": [*failed, *raised]} if failed or raised else {}
    return update | ({"limits": limits} if raised else {})


def _decision_comment(decision: ReviewDecision, report: ComplianceReport) -> str | None:
    """The reviewer's comment; an approval over blocking findings says so, naming them."""
    if decision.action != "approve" or report.item_status(decision.item_id) != "blocked":
        return decision.comment
    rules = sorted({f.rule_id for f in report.for_item(decision.item_id) if f.severity == "error"})
    return f"approved over blocking findings: {', '.join(rules)}" + (f"; {decision.comment}" if decision.comment
                                                                         else "")


def finalize(state: BriefState, config: RunnableConfig, *, deps: Deps) -> dict[str, Any]:
    """Render every approved preview at all its channel's sizes, with the channel's approved headline and CTA."""
    rounds = _rounds(state, deps.settings)
    approved_copy: list[CopyVariant] = _approved(state, "copy", rounds)
    previews: list[ImageAsset] = _approved(state, "images", rounds)
    _check_approved(previews, state)  # nothing is rendered in full on an approval the review did not record

    def render(preview: ImageAsset) -> tuple[list[ImageAsset], list[AuditEvent]]:
        channel = get_channel(preview.channel)
        copies = [c for c in approved_copy if c.channel == preview.channel]
        overlay = channel.overlay_field
        headlines = [c.fields[overlay.name][0] for c in copies if overlay and c.fields.get(overlay.name)]
        ctas = [c.fields["cta"][0] for c in copies if c.fields.get("cta")]
        return render_finals(
            deps.renderer, preview, headlines[0] if headlines else preview.headline, ctas[0] if ctas else "",
            state["brief"].product, state["brand"], deps.settings.assets_dir, pricing=deps.pricing,
            font_dirs=(deps.settings.fonts_dir,),
        )

    finals: list[ImageAsset] = []
    audit: list[AuditEvent] = []
    for rendered, events in in_threads(render, previews):
        finals += rendered
        audit += events
    if finals:
        settings = deps.settings
        dev_ca = settings.provenance_cert is None
        finals, stamps = stamp_finals(
            finals, settings.assets_dir, signer=signer_files(settings, create_dev_ca=dev_ca), dev_ca=dev_ca,
            watermark=settings.watermark, watermark_method=settings.watermark_method,
            ai_label_channels=settings.ai_label_channels, records=settings.stamps_dir,
        )
        audit += stamps
    return {"finals": finals, "audit": _keyed(audit), "ledger": _sync_ledger(state, config, deps)}


def export(state: BriefState, config: RunnableConfig, *, deps: Deps) -> dict[str, Any]:
    """Write the pack: only items with a recorded human approval go in."""
    rounds = _rounds(state, deps.settings)
    copies: list[CopyVariant] = _approved(state, "copy", rounds)
    previews: list[ImageAsset] = _approved(state, "images", rounds)
    _check_approved([*copies, *previews], state)
    approved_previews = {image.id for image in previews}
    finals = [f for f in state.get("finals", []) if f.source_id in approved_previews]
    thread_id = _thread(config)
    out_dir = _pack_dir(state, config, deps)
    (event,) = _keyed([AuditEvent(kind="export", node="export", path=str(out_dir))])
    report, _ = _check(state, deps, copies, finals, llm=False)
    failed = _unbilled(state, config, deps)
    audit = [*state.get("audit", []), *failed, event]
    manifest = write_pack(
        out_dir, thread_id=thread_id, brief=state["brief"], copies=copies, images=finals, report=report,
        audit=audit, cost=summarize(audit), pricing=deps.pricing.as_of, brand=state["brand"],
        idempotency_key=event.idempotency_key,
    )
    reply = (f"Pack written to {out_dir}: {len(copies)} copy item(s), {len(finals)} final image(s). Compliance: "
             f"{report.status}, brand score {report.score}%.")
    return {"manifest": manifest, "out_dir": str(out_dir), "audit": [*failed, event],
            "ledger": _sync_ledger(state, config, deps), "messages": [AIMessage(reply)]}


def remember_approved(state: BriefState, config: RunnableConfig, *, deps: Deps) -> dict[str, Any]:
    """Store the exported copy and images in brand memory as examples for the brand's next briefs."""
    rounds = _rounds(state, deps.settings)
    items = [*_approved(state, "copy", rounds), *_approved(state, "images", rounds)]
    stored = deps.memory.remember(state["brief"], items, thread_id=_thread(config))
    event = AuditEvent(kind="remember", node="remember_approved", comment=f"{stored} approved item(s) stored as "
                       f"examples of brand {state['brief'].brand!r}")
    return {"audit": [event]}


def seal_ledger(state: BriefState, config: RunnableConfig, *, deps: Deps) -> dict[str, Any]:
    """Append the thread's last audit events to its ledger."""
    failed = _unbilled(state, config, deps)
    return {"ledger": _sync_ledger(state, config, deps, also=failed), **({"audit": failed} if failed else {})}


# --- routers -----------------------------------------------------------------------------------------


def route_after_intake(state: BriefState) -> Literal["ask_clarification", "recall_brand"]:
    """Ask while essentials are missing; otherwise go on to brand recall."""
    return "ask_clarification" if state.get("missing") else "recall_brand"


def route_to_work(state: BriefState) -> list[Send] | Literal["check_compliance"]:
    """Fan out: one ``write_copy`` per copy subtask and one ``make_visual`` per visual subtask."""
    sends = [_send(subtask, state, previous=None) for subtask in state["subtasks"]]
    return sends or "check_compliance"


def _send(subtask: Subtask, state: BriefState, previous: CopyVariant | None, *, autofix: bool = False) -> Send:
    if subtask.kind == "copy":
        return Send("write_copy", CopyTask(subtask=subtask, brief=state["brief"], brand=state["brand"],
                                           previous=previous, autofix=autofix))
    return Send("make_visual", VisualTask(subtask=subtask, brief=state["brief"], brand=state["brand"]))


def route_after_check(state: BriefState) -> Literal["budget_fix", "review"]:
    """Copy the check just blocked goes back to the copywriter once (through the budget gate); else review."""
    return "budget_fix" if state.get("autofix") else "review"


def route_autofix(state: BriefState) -> list[Send]:
    """The copy the check blocked, back to the copywriter with the errors to fix."""
    due = set(state.get("autofix", []))
    report = state["compliance"]
    return [
        _send(Subtask(id=copy.id, kind="copy", channel=copy.channel, variant=copy.variant, revision=copy.revision + 1,
                      feedback=autofix_feedback(report.for_item(copy.id))), state, previous=copy, autofix=True)
        for copy in state.get("copy", []) if copy.id in due
    ]


def route_after_review(
    state: BriefState, *, settings: Settings
) -> list[Send] | Literal["check_compliance", "finalize"]:
    """Rejected items with rounds left go back to their agent with the comment; edits that failed the
    checks go back to review; when nothing is left to decide, finalize."""
    max_rounds = _rounds(state, settings)
    decisions = state.get("decisions", [])
    rewrites: list[Send] = []
    for item in _live(state, max_rounds):
        if item_state(item, decisions, max_rounds) != "rejected":
            continue
        comment = next(d.comment for d in reversed(decisions) if d.item_id == item.id)
        subtask = Subtask(
            id=item.id, kind="copy" if isinstance(item, CopyVariant) else "visual", channel=item.channel,
            variant=item.variant, revision=item.revision + 1, feedback=comment,
        )
        rewrites.append(_send(subtask, state, previous=item if isinstance(item, CopyVariant) else None))
    if rewrites:
        return rewrites
    if any(item_state(i, decisions, max_rounds) == "pending" for i in _live(state, max_rounds)):
        return "check_compliance"
    return "finalize"


# --- assembly ----------------------------------------------------------------------------------------


def build_graph(
    settings: Settings | None = None,
    *,
    checkpointer: BaseCheckpointSaver[Any] | Literal[False] | None = None,
    store: BaseStore | None = None,
    chat_model: BaseChatModel | None = None,
    image_generator: ImageRenderer | None = None,
    memory: BrandMemory | None = None,
    confine_packs: bool = False,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build and compile the brief graph.

    Every backend has a default from ``settings``: the chat model from ``settings.llm``, a SQLite
    checkpointer in the data dir, the image backend ``settings.image_backend`` names (the offline layout
    renderer unless set to diffusers), and Chroma brand memory in the data dir. Pass
    ``checkpointer=False`` where the host brings its own (``langgraph dev``), and ``confine_packs=True`` where
    the graph's clients may not choose where on the host a pack is written (an ``out_dir`` outside DATA_DIR/packs
    is refused). Run it with ``durability="sync"`` so a paused run survives a crash (the CLI does).
    """
    settings = settings or load_settings()
    pricing = load_pricing(settings.pricing_file)
    if chat_model is None:
        chat_model = make_chat_model(settings)
        # OpenAI-compatible servers (vLLM, Ollama, llama.cpp) all constrain forced tool calls; few take json_schema.
        method = "function_calling" if settings.llm_provider == "openai-compatible" else None
        who = ModelCall.of(chat_model, provider=settings.llm_provider, seed=settings.llm_seed, method=method,
                           pricing=pricing, remote=remote_policy(settings))
    else:
        who = ModelCall.of(chat_model, pricing=pricing)
    deps = Deps(
        settings=settings, chat_model=chat_model, who=who,
        renderer=image_generator or make_renderer(settings),
        memory=memory or open_memory(settings),
        safety=SafetyChecker.load(settings.safety_model) if settings.safety_model else None, pricing=pricing,
        confine_packs=confine_packs,
    )
    builder = StateGraph(BriefState, input_schema=BriefInput)
    builder.add_node("intake", _keeping_spend(partial(intake, deps=deps), deps))
    builder.add_node("ask_clarification", ask_clarification)
    builder.add_node("recall_brand", partial(recall_brand, deps=deps))
    builder.add_node("plan", partial(plan, deps=deps))
    builder.add_node("write_copy", _keeping_spend(partial(write_copy, deps=deps), deps))
    builder.add_node("make_visual", _keeping_spend(partial(make_visual, deps=deps), deps))
    builder.add_node("check_compliance", _keeping_spend(partial(check_compliance, deps=deps), deps))
    builder.add_node("review", partial(review, deps=deps))
    builder.add_node("finalize", _keeping_spend(partial(finalize, deps=deps), deps))
    builder.add_node("export", partial(export, deps=deps))
    builder.add_node("remember_approved", partial(remember_approved, deps=deps))
    builder.add_node("seal_ledger", partial(seal_ledger, deps=deps))
    after_review = partial(route_after_review, settings=settings)
    upcomings: tuple[Callable[[BriefState], Any], ...] = (route_to_work, route_autofix, after_review)
    for gate, upcoming in zip(BUDGET_GATES, upcomings, strict=True):
        builder.add_node(gate, partial(budget_gate, deps=deps, name=gate, upcoming=upcoming))

    builder.add_edge(START, "intake")
    builder.add_conditional_edges("intake", route_after_intake, ["ask_clarification", "recall_brand"])
    builder.add_edge("ask_clarification", "intake")
    builder.add_edge("recall_brand", "plan")
    builder.add_edge("plan", "budget_work")
    builder.add_conditional_edges("budget_work", route_to_work, ["write_copy", "make_visual", "check_compliance"])
    builder.add_edge("write_copy", "check_compliance")
    builder.add_edge("make_visual", "check_compliance")
    builder.add_conditional_edges("check_compliance", route_after_check, ["budget_fix", "review"])
    builder.add_conditional_edges("budget_fix", route_autofix, ["write_copy"])
    builder.add_edge("review", "budget_review")
    builder.add_conditional_edges(
        "budget_review", after_review, ["write_copy", "make_visual", "check_compliance", "finalize"],
    )
    builder.add_edge("finalize", "export")
    builder.add_edge("export", "remember_approved")
    builder.add_edge("remember_approved", "seal_ledger")
    builder.add_edge("seal_ledger", END)

    if checkpointer is None:
        checkpointer = sqlite_checkpoints(settings.checkpoint_path)
    elif checkpointer:
        checkpointer = checkpointer.with_allowlist(ALLOWLIST)  # takes effect where the saver is strict
    return builder.compile(checkpointer=checkpointer or None, store=store, name="briefcraft")

