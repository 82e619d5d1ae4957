"""The GPU image benchmark run tiny on the CPU, so that it cannot rot: its JSON, its ratios and its FLOP counts.

Speed is never asserted: the figures are checked against each other, not against a clock.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from builders import load_script

BENCH = Path(__file__).resolve().parents[1] / "evals" / "bench_imagegen.py"
ROW = {"dtype", "decoder", "compiled", "seconds", "median_s", "ms_per_call", "s_per_image", "images_per_s",
       "speedup_vs_stock", "flops_per_image", "tflops_per_s", "mfu"}


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script("bench_imagegen")


@pytest.fixture(scope="module")
def result(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny CPU run through the command line's entry point, read back from its --json file."""
    out = tmp_path_factory.mktemp("bench") / "imagegen.json"
    threads = torch.get_num_threads()
    # With other processes on the 2 cores, torch's 2 threads spin-wait on these tiny ops: measured 234 ms per tiny
    # SDXL UNet call against 27 ms on one thread.
    torch.set_num_threads(1)
    try:
        returned = bench.main(["--scale", "tiny", "--device", "cpu", "--runs", "1", "--warmup", "1",
                               "--json", str(out)])
    finally:
        torch.set_num_threads(threads)
    written: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert written == returned
    return written


def test_the_json_holds_both_cases_and_both_variants(result: dict[str, Any]) -> None:
    import diffusers

    assert set(result) == {"device", "torch", "diffusers", "python", "scale", "runs", "warmup", "peak_bf16_tflops",
                           "cases", "targets"}
    assert (result["torch"], result["diffusers"]) == (torch.__version__, diffusers.__version__)
    assert result["device"].endswith(" cores")
    assert (result["scale"], result["runs"], result["warmup"], result["peak_bf16_tflops"], result["targets"]) == (
        "tiny", 1, 1, None, None)
    assert list(result["cases"]) == ["preview", "final"]
    shapes = {name: {k: v for k, v in case.items() if k not in ("flops", "results")}
              for name, case in result["cases"].items()}
    assert shapes == {
        "preview": {"pipeline": "sd-turbo-tiny", "width": 64, "height": 64, "steps": 1, "guidance": 0.0, "batch": 4},
        "final": {"pipeline": "sdxl-base-tiny", "width": 128, "height": 128, "steps": 30, "guidance": 5.0, "batch": 1},
    }
    decoders = {name: {variant: (row["dtype"], row["decoder"], row["compiled"]) for variant, row in case["results"].items()}
                for name, case in result["cases"].items()}
    assert decoders == {  # on a CPU ours stays fp32 too; previews decode with the tiny VAE
        "preview": {"stock": ("float32", "AutoencoderKL", False), "ours": ("float32", "AutoencoderTiny", False)},
        "final": {"stock": ("float32", "AutoencoderKL", False), "ours": ("float32", "AutoencoderKL", False)},
    }


def test_figures_follow_from_the_timings_and_the_flop_counts(result: dict[str, Any]) -> None:
    for case in result["cases"].values():
        flops = case["flops"]
        assert set(flops) == {"unet_step", "text_encoders", "vae_decode", "tiny_vae_decode"}
        assert all(isinstance(v, int) and v > 0 for v in flops.values())
        passes = 2 if case["guidance"] > 1 else 1
        stock = case["results"]["stock"]["median_s"]
        for row in case["results"].values():
            assert set(row) == ROW
            assert len(row["seconds"]) == 1 and row["seconds"][0] > 0
            median, batch = row["median_s"], case["batch"]
            assert row["median_s"] == row["seconds"][0]
            assert row["ms_per_call"] == pytest.approx(median * 1000)
            assert row["s_per_image"] == pytest.approx(median / batch)
            assert row["images_per_s"] == pytest.approx(batch / median)
            assert row["speedup_vs_stock"] == pytest.approx(stock / median)
            decoder = flops["tiny_vae_decode" if row["decoder"] == "AutoencoderTiny" else "vae_decode"]
            assert row["flops_per_image"] == (case["steps"] * passes * flops["unet_step"]
                                              + passes * flops["text_encoders"] + decoder)
            assert row["tflops_per_s"] == pytest.approx(row["flops_per_image"] * batch / median / 1e12)
            assert row["mfu"] is None  # no known bf16 peak for a CPU


def _hooked_unet_flops(config: dict[str, Any], size: int) -> int:
    """2 x multiply-adds of one UNet call at batch 1, summed from module hooks on a real CPU forward.

    Independent of the benchmark's FlopCounterMode-on-meta count: linears (2 x in_features per output value),
    convolutions (2 x in_channels/groups x kernel area per output value) and attention (Q K^T and the weighted
    sum of V: 2 x 2 x queries x keys x inner_dim), the only matmul-like work in a UNet.
    """
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention_processor import Attention

    unet = UNet2DConditionModel.from_config(config)  # type: ignore[no-untyped-call]
    total = 0

    def count(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, torch.nn.Linear):
            total += 2 * module.in_features * output.numel()
        elif isinstance(module, torch.nn.Conv2d):
            total += 2 * output.numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
        else:
            queries = args[0]
            keys = kwargs.get("encoder_hidden_states")
            keys = queries if keys is None else keys
            total += 2 * 2 * queries.shape[0] * queries.shape[1] * keys.shape[1] * module.inner_dim

    for module in unet.modules():
        if isinstance(module, torch.nn.Linear | torch.nn.Conv2d | Attention):
            module.register_forward_hook(count, with_kwargs=True)
    extra: dict[str, Any] = {}
    if config.get("addition_embed_type") == "text_time":
        pooled = config["projection_class_embeddings_input_dim"] - 6 * config["addition_time_embed_dim"]
        extra["added_cond_kwargs"] = {"text_embeds": torch.randn(1, pooled), "time_ids": torch.randn(1, 6)}
    with torch.no_grad():
        unet(torch.randn(1, 4, size // 8, size // 8), torch.tensor(999),
             encoder_hidden_states=torch.randn(1, 77, config["cross_attention_dim"]), **extra)
    return total


@pytest.mark.parametrize("case", ["preview", "final"])
def test_unet_flops_equal_an_independent_count(result: dict[str, Any], case: str) -> None:
    counted = result["cases"][case]
    config = json.loads((BENCH.parent / "configs" / "imagegen" / f"{counted['pipeline']}.json").read_text())
    assert counted["flops"]["unet_step"] == _hooked_unet_flops(config["components"]["unet"], counted["width"])


def test_targets_are_checked_for_each_of_our_variants(bench: ModuleType, result: dict[str, Any]) -> None:
    checks = bench.check_targets(result)  # a full run does this; the tiny run's own figures stand in
    rows = {name: case["results"]["ours"] for name, case in result["cases"].items()}
    assert checks == [
        {"variant": "ours", "target": "final s_per_image <= 0.85", "measured": rows["final"]["s_per_image"],
         "met": rows["final"]["s_per_image"] <= 0.85},
        {"variant": "ours", "target": "preview ms_per_call <= 60.0", "measured": rows["preview"]["ms_per_call"],
         "met": rows["preview"]["ms_per_call"] <= 60.0},
        {"variant": "ours", "target": "preview speedup_vs_stock >= 1.5",
         "measured": rows["preview"]["speedup_vs_stock"], "met": rows["preview"]["speedup_vs_stock"] >= 1.5},
        {"variant": "ours", "target": "final speedup_vs_stock >= 1.5",
         "measured": rows["final"]["speedup_vs_stock"], "met": rows["final"]["speedup_vs_stock"] >= 1.5},
    ]
    table = bench.markdown({**result, "targets": checks})
    assert "| ours | final s_per_image <= 0.85 |" in table


@pytest.mark.parametrize(("argv", "message"), [
    (["--scale", "huge"], "argument --scale: invalid choice: 'huge'"),  # then the choices, quoted by version
    (["--scale", "full", "--device", "cpu"], "--scale full on a CPU takes hours per image; allowed on cpu: --scale tiny"),
    (["--device", "cpu", "--scale", "tiny", "--runs", "0"], "--runs 0 --warmup 2: allowed --runs >= 1, --warmup >= 0"),
])
def test_bad_arguments_are_one_line_errors(bench: ModuleType, capsys: pytest.CaptureFixture[str], argv: list[str],
                                           message: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench.main(argv)
    assert exit_.value.code == 2
    assert f"error: {message}" in capsys.readouterr().err.splitlines()[-1]
