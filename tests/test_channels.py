"""The channel catalog: required channels, documented limits, alias detection."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import regex
from builders import ETSY_REFUSED
from pydantic import ValidationError

import briefcraft.channels
from briefcraft.channels import (
    Characters,
    CopyField,
    channel_ids,
    detect_channels,
    detect_other_platforms,
    get_channel,
    load_catalog,
    not_covered,
    other_platforms,
)

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
    every = text.splitlines()
    lines = [line for line in every if any(key in line for key in ("max_chars", "min_count", "unique", "repeated_punctuation"))
             or line.strip().startswith("- [")]
    assert lines
    assert [line for line in lines if "#" not in line] == []
    # a character set's source is the comment just above it
    sets = [i for i, line in enumerate(every) if "chars: {" in line]
    assert sets
    assert [every[i] for i in sets if not every[i - 1].strip().startswith("#")] == []


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
        ("a tweet, a LinkedIn post and Google Ads", ["x_post", "linkedin_post", "google_rsa"]),
        # in the order the brief names them; one name two channels share, in catalog order
        ("email first, then Instagram", ["email", "instagram_feed"]),
        ("Instagram stories and a couple of tweets", ["instagram_story", "x_post"]),
        ("banners for the homepage", ["display_300x250", "display_728x90"]),
        ("our Etsy shop listing", ["etsy_listing"]),
        ("newsletter to subscribers", ["email"]),
        ("a brand story for our customers", []),
        ("box size 2 x 3", ["x_post"]),
        # a name several channels share ("banner") means the one the brief names by size, both when it names none
        ("search ads + a 300x250 banner for Hablo", ["google_rsa", "display_300x250"]),
        ("Leaderboard banner (728x90) for the Riverside Jazz Festival", ["display_728x90"]),
        ("a 300x250 banner and a leaderboard", ["display_300x250", "display_728x90"]),
        # a channel the brief turns down is not one it asks for
        ("No Facebook this time, just Instagram.", ["instagram_feed"]),
        ("Email only, not on X and skip the newsletter... wait, and LinkedIn", ["email", "linkedin_post"]),
        ("No. 1 cold brew on Instagram", ["instagram_feed"]),
        # German compounds and the Spanish, French and Italian names of the eval set's briefs
        ("Bitte einen Newsletter und Google-Suchanzeigen auf Deutsch", ["email", "google_rsa"]),
        ("Instagram-Post und LinkedIn-Beitrag", ["instagram_feed", "linkedin_post"]),
        ("un anuncio de Facebook y stories de Instagram en español", ["facebook_feed", "instagram_story"]),
        ("une story Instagram et une annonce Facebook", ["instagram_story", "facebook_feed"]),
        ("storie di Instagram e annunci Google", ["instagram_story", "google_rsa"]),
        # a slip in a name of 8 letters or more, after its first letter; shorter names have words one slip away
        ("facebok ad for sunny paws", ["facebook_feed"]),
        ("an Instagarm post and a newsleter", ["instagram_feed", "email"]),
        ("Linkdin post", ["linkedin_post"]),
        ("a twister of flavours, sent by gmail", []),
        ("brand interest is up", []),
    ],
)
def test_detect_channels(text: str, expected: list[str]) -> None:
    assert detect_channels(text) == expected


@pytest.mark.parametrize(
    ("text", "channels", "others"),
    [
        ("Promote our candles on Instagram and TikTok", ["instagram_feed"], ["TikTok"]),
        ("an Etsy listing and an Instagram post (we'll do Pinterest ourselves)", ["etsy_listing", "instagram_feed"],
         ["Pinterest"]),
        ("a Tik-Tok, YouTube Shorts, a landing page and an email", ["email"], ["TikTok", "YouTube", "landing pages"]),
        ("print ads, a billboard and SMS", [], ["print ads", "billboards", "SMS"]),
        # everyday words and products are not platforms: a platform is named only by its aliases, never by its id
        ("season 2 of The Long Table podcast, by email", ["email"], []),
        ("screen print tees and cotton threads, push-up bras, enamel pins and art posters on X", ["x_post"], []),
        ("print-on-demand mugs for our Etsy shop", ["etsy_listing"], []),
        ("Instagram post, no TikTok and not on YouTube", ["instagram_feed"], []),
        ("Pintrest boards and a Whatsap broadcast", [], ["Pinterest", "WhatsApp"]),
    ],
)
def test_platforms_the_catalog_lacks_are_named_apart(text: str, channels: list[str], others: list[str]) -> None:
    assert (detect_channels(text), detect_other_platforms(text)) == (channels, others)


def test_not_covered_names_each_platform_in_one_line() -> None:
    assert not_covered([]) == ""
    assert not_covered(["TikTok"]) == "nothing is made for TikTok: the channel catalog has no such channel"
    assert not_covered(["TikTok", "YouTube", "print ads"]) == (
        "nothing is made for TikTok, YouTube and print ads: the channel catalog has no such channel"
    )


def test_a_platform_may_not_name_a_catalog_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "tiktok" in other_platforms() and not set(other_platforms()) & set(channel_ids())
    packaged = briefcraft.channels._data
    for platforms, message in (
        ({"email": {"name": "e-mail", "aliases": ["mail"]}}, "'email' is a catalog channel id"),
        ({"reels": {"name": "Reels", "aliases": ["reels", "insta"]}}, "'reels' alias 'insta' names a catalog channel"),
    ):
        monkeypatch.setattr(briefcraft.channels, "_data",
                            lambda name, given=platforms: given if name == "other_platforms.yaml" else packaged(name))
        other_platforms.cache_clear()
        try:
            with pytest.raises(ValueError, match=f"other_platforms.yaml: {message}"):
                other_platforms()
        finally:
            other_platforms.cache_clear()


def test_character_sets_and_counts_are_checked_when_the_catalog_loads() -> None:
    with pytest.raises(ValidationError, match=r"unknown character categories \['So'\]; allowed: L, M, N, Nd"):
        Characters(categories=("L", "So"))
    with pytest.raises(ValidationError, match="field 'tags': min_count 14 is above count 13"):
        CopyField(name="tags", max_chars=20, count=13, max_count=13, min_count=14)


def test_marks_are_taken_on_letters_only() -> None:
    letters = Characters(categories=("L", "M", "Zs"))
    assert letters.refused("हिन्दी") == []                        # Devanagari vowel signs on their letters
    assert letters.refused("e\u0301 \u0301") == [3]              # an accent on a space is refused
    assert letters.refused("❤\ufe0f ok") == [0, 1]               # an emoji and its variation selector
    assert letters.clean("cafe\u0301 ❤\ufe0f") == "café"         # composed (NFC), refused ones removed



@pytest.mark.parametrize("field", list(ETSY_REFUSED))
def test_etsy_fields_take_each_character_etsys_pattern_takes(field: str) -> None:
    # one character at a time: a mark alone is refused by both (briefcraft takes marks only on a letter); the
    # characters both Unicode versions assign (Python's unicodedata and the regex module's may differ)
    pattern, chars = regex.compile(ETSY_REFUSED[field]), get_channel("etsy_listing").field(field).chars
    assert chars is not None
    unassigned = regex.compile(r"\p{Cn}")
    codepoints = [c for c in map(chr, range(0x30000)) if not 0xD800 <= ord(c) <= 0xDFFF
                  and unicodedata.category(c) != "Cn" and not unassigned.match(c)]
    assert len(codepoints) > 140_000
    differ = [c for c in codepoints if (chars.refused(c) == []) == bool(pattern.search(c))]
    assert differ == []
