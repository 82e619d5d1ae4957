"""The OpenAI Images backend: AI pictures from a managed API, for teams without a GPU.

A preview is generated (``images.generate``) with the preview quality; a final refines the approved preview's picture
with ``images.edit`` at the final quality, so it keeps what the reviewer approved. Every picture comes at the model's
supported size closest in aspect to the spec; the compositor crops it to the channel size and sets the copy on it.

The API takes no seed. The same spec gives a different picture on every call: the caller still records the spec's
seed, but it cannot reproduce a picture from this backend. What carries a preview into its final is the preview's
file, sent to the edit. BRIEFCRAFT_IMAGE_OPENAI_BASE_URL points the client at any other server speaking the API.
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from PIL import Image

from briefcraft.errors import ConfigError, GenerationError
from briefcraft.remote import RemotePolicy
from briefcraft.tools.render import Rendered, RenderSpec

if TYPE_CHECKING:
    import openai
    from openai.types import ImagesResponse

    from briefcraft.settings import Settings

__all__ = ["MODELS", "RETIRED", "ModelSpec", "OpenAIImagesRenderer", "closest_size", "model_spec"]


@dataclass(frozen=True)
class ModelSpec:
    """What the Images API accepts from a model: sizes as (width, height), and qualities (None: the server checks)."""

    sizes: tuple[tuple[int, int], ...]
    qualities: tuple[str, ...] | None


#: Every GPT image model takes these three sizes. The newer ones also take custom sizes (multiples of 16, 1:3 to
#: 3:1), which we do not use: the compositor crops each picture to its channel size anyway.
_STANDARD_SIZES = ((1024, 1024), (1536, 1024), (1024, 1536))
_QUALITIES = ("low", "medium", "high", "auto")
_QUALITIES_2_5 = (*_QUALITIES, "xhigh", "max")

#: Source: the docstrings of ``images.generate`` and ``images.edit`` in the openai 3.52.0 SDK, which restate the API
#: reference (read 2026-11). Every model here accepts edits; a dated snapshot (``gpt-image-2-2026-04-21``) takes its
#: model's row.
MODELS: dict[str, ModelSpec] = {
    "gpt-image-1-mini": ModelSpec(_STANDARD_SIZES, _QUALITIES),
    "gpt-image-1.5": ModelSpec(_STANDARD_SIZES, _QUALITIES),
    "gpt-image-2": ModelSpec(_STANDARD_SIZES, _QUALITIES),
    "gpt-image-2.5-flare": ModelSpec(_STANDARD_SIZES, _QUALITIES_2_5),
    "gpt-image-2.5-sunburst": ModelSpec(_STANDARD_SIZES, _QUALITIES_2_5),
    "gpt-image-2.6-flare": ModelSpec(_STANDARD_SIZES, _QUALITIES),
    "gpt-image-2.6-sunburst": ModelSpec(_STANDARD_SIZES, _QUALITIES),
    "chatgpt-image-latest": ModelSpec(_STANDARD_SIZES, _QUALITIES),
}

#: Models OpenAI no longer serves (same source): one line at start beats a failed call per picture.
RETIRED = {
    "gpt-image-1": "shut down on 2026-10-23",
    "dall-e-2": "retired on 2026-05-12",
    "dall-e-3": "retired on 2026-05-12",
}

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")

#: What to fix, by HTTP status, after the API's own message.
def model_spec(model: str, *, other_server: bool = False) -> ModelSpec:
    """The sizes and qualities of ``model``; ``ConfigError`` for a retired or unknown model.

    With ``other_server`` (a base URL), a model not in ``MODELS`` is the server's own: it gets the standard sizes,
    and its qualities are left to the server to check.
    """
    name = _SNAPSHOT.sub("", model)
    if name in MODELS:
        return MODELS[name]
    if other_server:
        return ModelSpec(_STANDARD_SIZES, None)
    if name in RETIRED:
        raise ConfigError(f"BRIEFCRAFT_IMAGE_OPENAI_MODEL={model} was {RETIRED[name]} by OpenAI; "
                          f"allowed: {', '.join(MODELS)}")
    raise ConfigError(f"BRIEFCRAFT_IMAGE_OPENAI_MODEL={model} is not an Images API model we know; "
                      f"allowed: {', '.join(MODELS)} (or any model of the server at BRIEFCRAFT_IMAGE_OPENAI_BASE_URL)")


def closest_size(sizes: tuple[tuple[int, int], ...], width: int, height: int) -> tuple[int, int]:
    """The size whose aspect ratio is closest to ``width:height``.

    Ratios are compared as logarithms, so a 2:1 and a 1:2 picture are equally far from a square.
    """
    target = math.log(width / height)
    return min(sizes, key=lambda size: abs(math.log(size[0] / size[1]) - target))


def _decode(response: ImagesResponse) -> Image.Image:
    """The one picture in ``response``; ``GenerationError`` when there is none or it is not an image."""
    data = response.data or []
    if len(data) != 1 or not data[0].b64_json:
        raise GenerationError(f"OpenAI Images answered {len(data)} picture(s) without base64 data; "
                              "expected one, as b64_json")
    try:
        picture = Image.open(io.BytesIO(base64.b64decode(data[0].b64_json, validate=True)))
        picture.load()
    except (ValueError, OSError) as error:  # bad base64 is a ValueError, an unreadable image an OSError
        raise GenerationError(f"OpenAI Images returned data that is not an image: {error}") from error
    return picture.convert("RGB")


def _remote(attempts: int = 4, max_wait_s: float = 30.0) -> RemotePolicy:
    """How Images API calls are retried (see briefcraft/remote.py)."""
    return RemotePolicy(
        service="OpenAI Images", attempts=attempts, max_wait_s=max_wait_s,
        key_setting="OPENAI_API_KEY or BRIEFCRAFT_OPENAI_API_KEY",
        request_settings="the prompt, BRIEFCRAFT_IMAGE_OPENAI_MODEL and BRIEFCRAFT_IMAGE_OPENAI_BASE_URL",
        connect_settings="BRIEFCRAFT_IMAGE_OPENAI_BASE_URL and BRIEFCRAFT_IMAGE_OPENAI_TIMEOUT_S",
        # A generation that timed out may still finish and be billed: it is not sent again.
        retry_timeouts=False,
    )


class OpenAIImagesRenderer:
    """The art director's managed-API backend: pictures (no text) from the OpenAI Images API or a compatible server.

    A picture cannot be reproduced from the spec's seed: the API takes none.
    """

    renderer = "openai"

    def __init__(
        self, client: openai.OpenAI, *, model: str, preview_quality: str, final_quality: str,
        other_server: bool = False, remote: RemotePolicy | None = None,
    ) -> None:
        self.client = client
        self.remote = remote or _remote()
        self.model = model
        accepted = model_spec(model, other_server=other_server)
        for stage, quality in (("PREVIEW", preview_quality), ("FINAL", final_quality)):
            if accepted.qualities is not None and quality not in accepted.qualities:
                raise ConfigError(f"BRIEFCRAFT_IMAGE_OPENAI_{stage}_QUALITY={quality} is not a quality of {model}; "
                                  f"allowed: {', '.join(accepted.qualities)}")
        self.sizes = accepted.sizes
        self.preview_quality = preview_quality
        self.final_quality = final_quality
        self.label = f"AI image (OpenAI Images, model {model})"

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIImagesRenderer:
        """A client for ``settings``' key or base URL, and the configured model and qualities."""
        import openai

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        client = openai.OpenAI(
            # A local server needs no key, but the SDK refuses to start without one.
            api_key=key or "not-needed", base_url=settings.image_openai_base_url,
            timeout=settings.image_openai_timeout_s,
            max_retries=0,  # the one retry layer is RemotePolicy (briefcraft/remote.py)
        )
        return cls(
            client, model=settings.image_openai_model, preview_quality=settings.image_openai_preview_quality,
            final_quality=settings.image_openai_final_quality, other_server=settings.image_openai_base_url is not None,
            remote=_remote(settings.provider_max_attempts, settings.provider_max_wait_s),
        )

    def render(self, spec: RenderSpec) -> Rendered:
        """The picture for ``spec``: generated for a preview, refined from ``spec.source`` for a final, with the
        tokens the API billed."""
        if not spec.prompt:
            raise ValueError("an AI render needs a prompt; the art director writes one from the brief")
        width, height = closest_size(self.sizes, spec.width, spec.height)
        size = f"{width}x{height}"
        # Qualities were checked against MODELS (or are another server's own); the SDK's Literal knows OpenAI's only.
        preview_quality, final_quality = cast(Any, self.preview_quality), cast(Any, self.final_quality)
        if spec.source is None:
            return self._call(lambda: self.client.images.generate(
                model=self.model, prompt=spec.prompt, size=size, quality=preview_quality, n=1,
            ))
        source = spec.source
        if not source.is_file():
            raise GenerationError(f"the approved preview's picture {source} is missing; a final is refined from it")
        return self._call(lambda: self.client.images.edit(
            model=self.model, image=source, prompt=spec.prompt, size=size, quality=final_quality, n=1,
        ))

    def _call(self, request: Callable[[], ImagesResponse]) -> Rendered:
        """Send ``request`` through the retry layer; the picture and its usage, or ``ProviderError`` in one line."""
        response, attempts = self.remote.call(request)
        usage = response.usage
        details = usage.input_tokens_details if usage is not None else None
        return Rendered(
            _decode(response), model=self.model, input_tokens=usage.input_tokens if usage else None,
            input_image_tokens=details.image_tokens if details else None,
            output_tokens=usage.output_tokens if usage else None, attempts=attempts,
        )
