"""A stand-in for the OpenAI Images API on 127.0.0.1: the same protocol, with real (tiny) diffusion pictures.

``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart) take the API's fields, check the
bearer key, the model, the size, the quality and the uploaded image the way the API does, and answer in its shapes:
``{"created", "data": [{"b64_json"}], "usage", ...}`` or ``{"error": {"message", "type", "param", "code"}}`` with the
API's status codes. Its rules are written here from the API reference, independently of
``briefcraft.tools.openai_images``, so that the client is checked against the protocol, not against itself.

It is a protocol stand-in, not a quality stand-in: pictures come from the random-weight Stable Diffusion pipeline of
``builders.make_tiny_sd`` at a sixteenth of the requested size (1536x1024 is generated at 96x64), in two steps, and
are upscaled to the requested size, so a call takes well under a second on a CPU. Token counts in ``usage`` are made
up. Every request answered is kept in ``requests`` for tests to inspect.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from builders import free_port
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from briefcraft.tools.imagegen import ImageGenerator, Quality

__all__ = ["ImagesServer", "Received"]

_SIZES = ("1024x1024", "1536x1024", "1024x1536")
_QUALITIES = ("low", "medium", "high", "auto")
#: The models served, with their qualities; ``tiny-sd`` stands for a server's own model with its own qualities.
_MODELS = {
    "gpt-image-2": _QUALITIES,
    "gpt-image-2.5-flare": (*_QUALITIES, "xhigh", "max"),
    "tiny-sd": ("draft", "final"),
}
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
_SCALE = 16
_STEPS = Quality(steps=2, guidance=1.0)
_EDIT_STEPS = Quality(steps=2, guidance=1.0, strength=0.6)


@dataclass(frozen=True)
class Received:
    """One request the server answered: its endpoint, its form or JSON fields, and an edit's uploaded image."""

    endpoint: str
    fields: dict[str, Any]
    image: bytes | None = None
    filename: str | None = None
    content_type: str | None = None


class _APIError(Exception):
    """An error answered in the API's shape."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _png(image: Image.Image) -> str:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)  # the upscaled pictures are big; speed over size
    return base64.b64encode(out.getvalue()).decode("ascii")


class ImagesServer:
    """The Images API on a local port, generating with ``generator``; ``api_key`` is the one bearer key accepted."""

    def __init__(self, generator: ImageGenerator, *, api_key: str, blocked_words: tuple[str, ...] = ()) -> None:
        self.generator = generator
        self.api_key = api_key
        self.blocked_words = blocked_words
        self.requests: list[Received] = []
        self.app = FastAPI()
        self.app.post("/v1/images/generations")(self._generations)
        self.app.post("/v1/images/edits")(self._edits)

    @contextmanager
    def running(self) -> Iterator[str]:
        """Serve on 127.0.0.1 in a thread; yields the base URL (``http://127.0.0.1:PORT/v1``)."""
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the images server did not start on port {port}")
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    def _check(self, request: Request, fields: dict[str, Any]) -> tuple[str, int, int, int]:
        """The API's checks, in its order; (quality, width, height, n) when the request may be served."""
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if key != self.api_key:
            raise _APIError(401, f"Incorrect API key provided: {key[:3]}***{key[-4:]}.", code="invalid_api_key")
        model = str(fields.get("model", ""))
        if model not in _MODELS:
            raise _APIError(404, f"The model '{model}' does not exist or you do not have access to it.",
                            code="model_not_found")
        if "response_format" in fields:
            raise _APIError(400, "Unknown parameter: 'response_format'.", param="response_format",
                            code="unknown_parameter")
        size = str(fields.get("size", "1024x1024"))
        if size not in _SIZES:
            allowed = ", ".join(f"'{s}'" for s in _SIZES)
            raise _APIError(400, f"Invalid value: '{size}'. Supported values are: {allowed} and 'auto'.",
                            param="size", code="invalid_value")
        quality = str(fields.get("quality", "auto"))
        if quality not in _MODELS[model]:
            allowed = ", ".join(f"'{q}'" for q in _MODELS[model])
            raise _APIError(400, f"Invalid value: '{quality}'. Supported values are: {allowed}.",
                            param="quality", code="invalid_value")
        n = int(fields.get("n", 1))
        if not 1 <= n <= 10:
            raise _APIError(400, f"Invalid 'n': integer above maximum value. Expected a value <= 10, but got {n}.",
                            param="n", code="integer_above_max_value")
        prompt = str(fields.get("prompt", ""))
        if any(word in prompt.lower() for word in self.blocked_words):
            raise _APIError(400, "Your request was rejected by the safety system. If you believe this is an error, "
                                 "contact us at help.openai.com.", code="moderation_blocked",
                            kind="image_generation_user_error")
        width, height = (int(side) for side in size.split("x"))
        return quality, width, height, n

    def _answer(self, pictures: list[Image.Image], fields: dict[str, Any], quality: str, image_tokens: int) -> JSONResponse:
        text_tokens = len(str(fields["prompt"]).split())
        return JSONResponse({
            "created": int(time.time()), "background": "opaque", "output_format": "png", "quality": quality,
            "size": f"{pictures[0].width}x{pictures[0].height}",
            "data": [{"b64_json": _png(picture)} for picture in pictures],
            "usage": {
                "input_tokens": text_tokens + image_tokens, "output_tokens": 272 * len(pictures),
                "total_tokens": text_tokens + image_tokens + 272 * len(pictures),
                "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
            },
        })

    async def _generations(self, request: Request) -> JSONResponse:
        fields = await request.json()
        try:
            quality, width, height, n = self._check(request, fields)
        except _APIError as error:
            return JSONResponse(error.body, status_code=error.status)
        self.requests.append(Received("generations", fields))
        # No seed in the API: each request gets another one, so the same request gives another picture.
        small = await run_in_threadpool(
            self.generator.text_to_image, str(fields["prompt"]), width=width // _SCALE, height=height // _SCALE,
            seed=len(self.requests), quality=_STEPS, count=n,
        )
        return self._answer([p.resize((width, height), Image.Resampling.BICUBIC) for p in small], fields, quality, 0)

    async def _edits(self, request: Request) -> JSONResponse:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        uploads = [f for f in [*form.getlist("image"), *form.getlist("image[]")] if isinstance(f, UploadFile)]
        try:
            quality, width, height, n = self._check(request, fields)
            if not uploads:
                raise _APIError(400, "Missing required parameter: 'image'.", param="image",
                                code="missing_required_parameter")
            upload = uploads[0]
            if upload.content_type not in _IMAGE_TYPES:
                raise _APIError(400, f"Invalid file 'image': unsupported mimetype ('{upload.content_type}'). "
                                     "Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
                                param="image", code="unsupported_file_mimetype")
            data = await upload.read()
            try:
                source = Image.open(io.BytesIO(data)).convert("RGB")
            except OSError as error:
                raise _APIError(400, "Invalid image file or mode for image 1, please check your image file.",
                                param="image", code="invalid_image_file") from error
        except _APIError as error:
            return JSONResponse(error.body, status_code=error.status)
        self.requests.append(Received("edits", fields, data, upload.filename, upload.content_type))
        small = source.resize((width // _SCALE, height // _SCALE), Image.Resampling.LANCZOS)
        pictures = [
            await run_in_threadpool(self.generator.image_to_image, str(fields["prompt"]), small,
                                    seed=len(self.requests) + i, quality=_EDIT_STEPS)
            for i in range(n)
        ]
        image_tokens = 65 * len(uploads)
        return self._answer([p.resize((width, height), Image.Resampling.BICUBIC) for p in pictures], fields, quality,
                            image_tokens)
