"""The channel catalog: required channels, documented limits, alias detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from briefcraft.channels import channel_ids, detect_channels, get_channel, load_catalog

REQUIRED = {
    "instagram_feed", "instagram_story", "facebook_feed", "linkedin_post", "x_post", "google_rsa",
    "display_300x250", "display_728x90", "email", "etsy_listing",
}


def test_required_channels_present() -> None:
    assert set(channel_ids()) >= REQUIRED


def test_platform_limits() -> None:
    rsa = get_channel("google_rsa")
    assert (rsa.field("headlines").max_chars, rsa.field("headlines").count, rsa.field("headlines").max_count) == (30, 3, 15)
    assert (rsa.field("descriptions").max_chars, rsa.field("descriptions").max_count) == (90, 4)
    assert get_channel("x_post").field("text").max_chars == 280
    etsy = get_channel("etsy_listing")
    assert etsy.field("title").max_chars == 140
    assert (etsy.field("tags").max_chars, etsy.field("tags").count) == (20, 13)
    assert get_channel("display_728x90").images == ((728, 90),)
    assert get_channel("google_rsa").images == ()


def test_every_limit_and_size_cites_a_source() -> None:
    import briefcraft

    text = (Path(briefcraft.__file__).parent / "data" / "channels.yaml").read_text()
    lines = [line for line in text.splitlines() if "max_chars" in line or line.strip().startswith("- [")]
    assert lines
    assert [line for line in lines if "#" not in line] == []


def test_every_channel_has_an_overlay_or_no_images() -> None:
    for channel in load_catalog().values():
        assert channel.overlay_field is not None or not channel.images, channel.id


def test_unknown_channel_names_allowed_ones() -> None:
    with pytest.raises(KeyError, match="unknown channel 'tiktok'; allowed: instagram_feed"):
        get_channel("tiktok")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("launch on Instagram and email", ["instagram_feed", "email"]),
        ("Instagram stories only", ["instagram_story"]),
        ("a tweet, a LinkedIn post and Google Ads", ["linkedin_post", "x_post", "google_rsa"]),
        ("Instagram stories and a couple of tweets", ["instagram_story", "x_post"]),
        ("banners for the homepage", ["display_300x250", "display_728x90"]),
        ("our Etsy shop listing", ["etsy_listing"]),
        ("newsletter to subscribers", ["email"]),
        ("a brand story for our customers", []),
        ("box size 2 x 3", ["x_post"]),
    ],
)
def test_detect_channels(text: str, expected: list[str]) -> None:
    assert detect_channels(text) == expected
