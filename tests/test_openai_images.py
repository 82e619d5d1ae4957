"""The OpenAI Images backend against a real local server speaking the Images API (``tests/images_server.py``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from builders import free_port
from images_server import ImagesServer, Received

from briefcraft.errors import ConfigError, GenerationError, ProviderError
from briefcraft.graphs import runner
from briefcraft.graphs.brief_graph import build_graph
from briefcraft.schemas import CreativeBrief
from briefcraft.settings import Settings, load_settings
from briefcraft.tools.imagegen import ImageGenerator
from briefcraft.tools.openai_images import MODELS, OpenAIImagesRenderer, closest_size, model_spec
from briefcraft.tools.render import RenderSpec

KEY = "sk-test-images"
PROMPT = "Advertising photograph of oat cold brew on a U-Bahn bench"


@pytest.fixture(scope="module")
def server(tiny_sd: tuple[Path, Path]) -> Iterator[tuple[ImagesServer, str]]:
    model, _ = tiny_sd
    images = ImagesServer(ImageGenerator.load(str(model), device="cpu"), api_key=KEY, blocked_words=("forbidden",))
    with images.running() as url:
        yield images, url


@pytest.fixture(autouse=True)
def _no_openai_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own key or image settings must not leak into these tests."""
    for name in ("OPENAI_API_KEY", "BRIEFCRAFT_OPENAI_API_KEY", "BRIEFCRAFT_IMAGE_BACKEND",
                 "BRIEFCRAFT_IMAGE_OPENAI_BASE_URL", "BRIEFCRAFT_IMAGE_OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)


def _settings(**overrides: object) -> Settings:
    return load_settings(_env_file=None, image_backend="openai", **overrides)


def _renderer(url: str, **overrides: object) -> OpenAIImagesRenderer:
    return OpenAIImagesRenderer.from_settings(_settings(image_openai_base_url=url, openai_api_key=KEY, **overrides))


def _spec(width: int, height: int, *, source: Path | None = None, prompt: str = PROMPT) -> RenderSpec:
    return RenderSpec(width=width, height=height, palette=("#1F3A5F", "#F2C14E"), seed=7, prompt=prompt,
                      source=source)


@pytest.mark.parametrize(("spec", "size"), [
    ((1200, 600), (1536, 1024)), ((1080, 1080), (1024, 1024)), ((1000, 1100), (1024, 1024)),
    ((1080, 1350), (1024, 1536)), ((600, 1200), (1024, 1536)), ((728, 90), (1536, 1024)),
])
def test_closest_size_by_aspect(spec: tuple[int, int], size: tuple[int, int]) -> None:
    assert closest_size(MODELS["gpt-image-2"].sizes, *spec) == size


def test_preview_is_generated_at_the_closest_supported_size(server: tuple[ImagesServer, str]) -> None:
    images, url = server
    made = _renderer(url).render(_spec(1200, 600))
    picture = made.image
    assert picture.size == (1536, 1024)
    words = len(PROMPT.split())  # the server counts a word a token; a low-quality picture is 272 output tokens
    assert (made.model, made.input_tokens, made.input_image_tokens, made.output_tokens, made.gpu_seconds) == (
        "gpt-image-2.5-flare", words, 0, 272, None)
    assert picture.mode == "RGB"
    assert images.requests[-1] == Received("generations", {  # no response_format: GPT image models refuse it
        "model": "gpt-image-2.5-flare", "prompt": PROMPT, "size": "1536x1024", "quality": "low", "n": 1,
    })


def test_final_is_an_edit_of_the_approved_preview(server: tuple[ImagesServer, str], tmp_path: Path) -> None:
    images, url = server
    renderer = _renderer(url, image_openai_final_quality="medium")
    preview = tmp_path / "preview.png"
    renderer.render(_spec(270, 480)).image.save(preview)
    made = renderer.render(_spec(1080, 1920, source=preview))
    assert made.image.size == (1024, 1536)
    assert made.input_image_tokens and made.input_tokens == len(PROMPT.split()) + made.input_image_tokens
    assert images.requests[-1] == Received(
        "edits", {"model": "gpt-image-2.5-flare", "prompt": PROMPT, "size": "1024x1536", "quality": "medium",
                  "n": "1"},
        image=preview.read_bytes(), filename="preview.png", content_type="image/png",
    )
    with pytest.raises(GenerationError, match=r"the approved preview's picture .*gone\.png is missing"):
        renderer.render(_spec(1080, 1920, source=tmp_path / "gone.png"))


def test_a_servers_own_model_and_qualities_pass_through(server: tuple[ImagesServer, str]) -> None:
    images, url = server
    renderer = _renderer(url, image_openai_model="tiny-sd", image_openai_preview_quality="draft")
    assert renderer.render(_spec(400, 400)).image.size == (1024, 1024)
    assert images.requests[-1].fields["quality"] == "draft"
    assert renderer.label == "AI image (OpenAI Images, model tiny-sd)"
    with pytest.raises(ConfigError, match=r"^BRIEFCRAFT_IMAGE_OPENAI_MODEL=tiny-sd is not an Images API model"):
        OpenAIImagesRenderer.from_settings(_settings(openai_api_key=KEY, image_openai_model="tiny-sd"))


def test_wrong_key_is_one_line_naming_the_key_setting(server: tuple[ImagesServer, str]) -> None:
    _, url = server
    renderer = OpenAIImagesRenderer.from_settings(_settings(image_openai_base_url=url, openai_api_key="sk-wrong"))
    with pytest.raises(ProviderError) as caught:
        renderer.render(_spec(512, 512))
    assert str(caught.value) == ("OpenAI Images rejected the API key (HTTP 401); not retried: "
                                 "check OPENAI_API_KEY or BRIEFCRAFT_OPENAI_API_KEY")


def test_a_refused_prompt_gives_the_apis_message(server: tuple[ImagesServer, str]) -> None:
    _, url = server
    with pytest.raises(ProviderError, match=r"^OpenAI Images refused the request \(HTTP 400: Your request was "
                                            r"rejected by the safety system\. If you believe this is an error, contact "
                                            r"us at help\.openai\.com\.\); not retried: check the prompt, "):
        _renderer(url).render(_spec(512, 512, prompt="a forbidden picture"))


def test_no_server_is_one_line() -> None:
    renderer = _renderer(f"http://127.0.0.1:{free_port()}/v1", provider_max_attempts=2, provider_max_wait_s=0.1)
    with pytest.raises(ProviderError, match=r"^OpenAI Images failed 2 time\(s\) in [\d.]+s, last with the connection "
                                            r"to http://127\.0\.0\.1:\d+/v1/images/generations failed or its reply was "
                                            r"cut off \(BRIEFCRAFT_PROVIDER_MAX_ATTEMPTS=2\); check the network, "
                                            r"BRIEFCRAFT_IMAGE_OPENAI_BASE_URL and BRIEFCRAFT_IMAGE_OPENAI_TIMEOUT_S$"):
        renderer.render(_spec(512, 512))


@pytest.mark.parametrize(("data", "error"), [
    ([{"b64_json": base64.b64encode(b"not a png").decode()}], "returned data that is not an image"),
    ([{"b64_json": "%%%"}], "returned data that is not an image"),
    ([{"url": "https://example.com/picture.png"}], "answered 1 picture"),
    ([], "answered 0 picture"),
])
def test_undecodable_answers_are_generation_errors(data: list[dict[str, str]], error: str) -> None:
    # The local server only sends good pictures; a transport that answers garbage checks the decoding.
    answer = httpx2.Response(200, json={"created": 1, "data": data})
    client = openai.OpenAI(api_key="k", base_url="http://images.test/v1", max_retries=0,
                           http_client=httpx2.Client(transport=httpx2.MockTransport(lambda _: answer)))
    renderer = OpenAIImagesRenderer(client, model="gpt-image-2", preview_quality="low", final_quality="high")
    with pytest.raises(GenerationError, match=error):
        renderer.render(_spec(512, 512))


@pytest.mark.parametrize(("model", "quality", "error"), [
    ("gpt-image-2.5-flare", "ultra", r"^BRIEFCRAFT_IMAGE_OPENAI_PREVIEW_QUALITY=ultra is not a quality of "
                                     r"gpt-image-2.5-flare; allowed: low, medium, high, auto, xhigh, max$"),
    ("gpt-image-2-2026-04-21", "max", r"^BRIEFCRAFT_IMAGE_OPENAI_PREVIEW_QUALITY=max is not a quality of "
                                      r"gpt-image-2-2026-04-21; allowed: low, medium, high, auto$"),
    ("gpt-image-2.5-flare-2026-09-08", "max", None),
    ("dall-e-3", "low", r"^BRIEFCRAFT_IMAGE_OPENAI_MODEL=dall-e-3 was retired on 2026-05-12 by OpenAI; allowed: gpt-image"),
    ("gpt-image-1", "low", r"^BRIEFCRAFT_IMAGE_OPENAI_MODEL=gpt-image-1 was shut down on 2026-10-23 by OpenAI"),
])
def test_models_and_qualities_are_checked_at_start(model: str, quality: str, error: str | None) -> None:
    settings = _settings(openai_api_key=KEY, image_openai_model=model, image_openai_preview_quality=quality)
    if error is None:
        assert OpenAIImagesRenderer.from_settings(settings).sizes == model_spec(model).sizes
        return
    with pytest.raises(ConfigError, match=error):
        OpenAIImagesRenderer.from_settings(settings)


def test_settings_need_a_key_or_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"^BRIEFCRAFT_IMAGE_BACKEND=openai needs an API key "
                                          r"\(OPENAI_API_KEY or BRIEFCRAFT_OPENAI_API_KEY\) or "
                                          r"BRIEFCRAFT_IMAGE_OPENAI_BASE_URL"):
        _settings()
    assert _settings(image_openai_base_url="http://127.0.0.1:9/v1").openai_api_key is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    settings = _settings()
    assert (settings.image_openai_model, settings.image_openai_preview_quality,
            settings.image_openai_final_quality) == ("gpt-image-2.5-flare", "low", "high")


@pytest.mark.llm
def test_graph_previews_and_finals_through_the_api(server: tuple[ImagesServer, str], tmp_path: Path,
                                                   local_model: Any) -> None:
    images, url = server
    settings = _settings(data_dir=tmp_path / "data", image_openai_base_url=url, openai_api_key=KEY)
    graph = build_graph(settings, chat_model=local_model, image_generator=OpenAIImagesRenderer.from_settings(settings))
    brief = CreativeBrief(product="Oat cold brew", audience="Berlin commuters", tone=["playful"], channels=["email"],
                          key_messages=["Cold brew, warm hello"])
    before = len(images.requests)
    current = runner.start(graph, brief, thread_id="api", max_brief_chars=settings.max_brief_chars, user="maya")
    assert current.stage == "waiting_for_approval"
    done = runner.resume(graph, "api", runner.approve_all(current))
    assert done.stage == "done"
    state = graph.get_state({"configurable": {"thread_id": "api"}}).values
    [preview] = [i for i in state["images"] if i.stage == "preview"]
    [final] = state["finals"]
    # One generation for the preview, then one edit of the preview's picture for the final.
    generation, edit = images.requests[before:]
    assert (generation.endpoint, generation.fields["size"], generation.fields["quality"]) == (
        "generations", "1536x1024", "low")
    assert (edit.endpoint, edit.fields["size"], edit.fields["quality"]) == ("edits", "1536x1024", "high")
    assert preview.picture and edit.image == Path(preview.picture).read_bytes()
    assert {(a.renderer, a.label) for a in (preview, final)} == {
        ("openai", "AI image (OpenAI Images, model gpt-image-2.5-flare)")}
    manifest = json.loads((Path(done.pack or "") / "manifest.json").read_text(encoding="utf-8"))
    assert [(i["width"], i["height"], i["renderer"]) for i in manifest["images"]] == [(1200, 600, "openai")]
