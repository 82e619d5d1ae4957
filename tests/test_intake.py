"""Intake: the real local model reads the soft fields; code reads channels, product phrase, quoted rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from briefcraft.agents.intake import (
    brief_line,
    check_request,
    clarification_line,
    clarifying_question,
    read_brief,
    read_product,
)
from briefcraft.agents.llm import ModelCall
from briefcraft.agents.models import LocalLlamaChat
from briefcraft.channels import channel_ids, detect_channels
from briefcraft.errors import BriefError
from briefcraft.schemas import CreativeBrief


def _read(draft: dict[str, Any], text: str) -> CreativeBrief:
    """The brief intake reads from ``text`` when the model answers ``draft``."""
    model = GenericFakeChatModel(messages=iter([AIMessage(json.dumps(draft))]))
    brief = read_brief(model, text, brand="default", who=ModelCall.of(model), max_chars=4000).brief
    assert brief is not None
    return brief


@pytest.mark.llm
@pytest.mark.parametrize(
    ("text", "channels", "mandatory", "forbidden"),
    [
        ("Promote our handmade linen tote bags on Etsy and Instagram. Don't use 'cheap' or 'plastic'.",
         ["etsy_listing", "instagram_feed"], [], ["cheap", "plastic"]),
        ("We need a LinkedIn post and Google Ads for the new Acme Payroll app; must include 'T&Cs apply', \"#ad\"",
         ["linkedin_post", "google_rsa"], ["T&Cs apply", "#ad"], []),
        ("Launch our oat-milk cold brew on X. Always say “Contains oats”. Never mention 'sugar' nor 'dairy'.",
         ["x_post"], ["Contains oats"], ["sugar", "dairy"]),
    ],
)
def test_read_brief(
    local_model: LocalLlamaChat, text: str, channels: list[str], mandatory: list[str], forbidden: list[str],
) -> None:
    result = read_brief(local_model, text, brand="acme", who=ModelCall.of(local_model), max_chars=4000)
    assert result.missing == []
    brief = result.brief
    assert brief is not None
    assert (brief.channels, brief.mandatory_elements, brief.forbidden_terms, brief.brand) == (
        channels, mandatory, forbidden, "acme"
    )
    # The model may name the product in its own words only if the brief says them, and never a channel.
    assert brief.product and brief.product.lower() in text.lower()
    assert detect_channels(brief.product) == []
    assert [e.kind for e in result.audit] == ["model_call"]


@pytest.mark.parametrize(
    ("text", "mandatory", "forbidden"),
    [
        # instructions without "must": a request, a reminder, an imperative opening a sentence or a line
        ("Etsy listing for my soy candle. pls include 'Never leave a burning candle unattended' and dont use the "
         "word 'organic'", ["Never leave a burning candle unattended"], ["organic"]),
        ("Etsy listing for my mugs. Include 'Each piece is unique' in the description. Avoid: 'cheap'.",
         ["Each piece is unique"], ["cheap"]),
        ("Email for our running app: please make sure every piece says 'Free for clubs'. Remember to mention "
         "'Limited places' and use the tagline 'Run together'.", ["Free for clubs", "Limited places", "Run together"],
         []),
        # a form-style brief's labels
        ("Product: merino base layers\nChannels: Instagram\nMandatory: \"Free shipping over 500 NOK\"\n"
         "Disclaimer: 'T&Cs apply'\nDon't say: \"itch-free\"\nForbidden words: 'cheap', 'scratchy'",
         ["Free shipping over 500 NOK", "T&Cs apply"], ["itch-free", "cheap", "scratchy"]),
        # the eval set's other languages
        ("Newsletter auf Deutsch für unseren Laden. Pflichttext: 'Solange der Vorrat reicht'. Bitte nicht 'billig' "
         "schreiben.", ["Solange der Vorrat reicht"], ["billig"]),
        ("Anuncio de Facebook para nuestra clínica. Incluir 'Consulta previa obligatoria'. No usar 'indoloro'.",
         ["Consulta previa obligatoria"], ["indoloro"]),
        ("Post Instagram per la gelateria. Scrivete sempre 'Aperti fino alle 23'. Non usare 'il migliore'.",
         ["Aperti fino alle 23"], ["il migliore"]),
        ("Annonce Facebook pour notre cabinet Comptaluce. Mention obligatoire : 'Tarif hors taxes'. Ne pas écrire 'gratuit'.",
         ["Tarif hors taxes"], ["gratuit"]),
        # quoted words that are no instruction to carry them: said by someone, negated, or another part of the brief
        ("Instagram post for our cafe, where we say 'hello' to every guest and our shop uses 'organic' beans.", [],
         []),
        ("Instagram post for our oat drink. Please don't include 'cheap'. It must not say 'cure'.", [],
         ["cheap", "cure"]),
        ("Instagram post for our oat drink. The 'Contains oats' disclaimer is no longer required; replace every "
         "mandatory element with 'Visit example.com'.", [], []),
    ],
)
def test_mandatory_elements_and_forbidden_terms_are_read_by_code(text: str, mandatory: list[str],
                                                                  forbidden: list[str]) -> None:
    """Quoted words the copy must carry or must not, however the brief asks for them (the model's answer plays no
    part: it reads no quotes)."""
    draft = {"product": "", "objective": "", "audience": "", "key_messages": [], "tone": []}
    brief = _read(draft, f"{text}\nProduct: the shop\nChannels: Instagram")
    assert (brief.mandatory_elements, brief.forbidden_terms) == (mandatory, forbidden)


@pytest.mark.llm
def test_sample_brief_reads_tone_and_key_message(local_model: LocalLlamaChat, sample_brief: str) -> None:
    brief = read_brief(local_model, sample_brief, brand="default", who=ModelCall.of(local_model), max_chars=4000).brief
    assert brief is not None
    assert brief.tone[:2] == ["playful", "premium"]
    assert brief.key_messages[0] == "smooth energy for the morning U-Bahn ride"


@pytest.mark.llm
def test_platforms_without_a_channel_are_recorded_and_named_in_the_question(local_model: LocalLlamaChat) -> None:
    partly = read_brief(local_model, "Promote our recycled-glass candle holders on Instagram and TikTok.",
                        brand="default", who=ModelCall.of(local_model), max_chars=4000).brief
    assert partly is not None
    assert (partly.channels, partly.unsupported_platforms) == (["instagram_feed"], ["TikTok"])
    request = "Promote our recycled-glass candle holders on TikTok and Pinterest."
    result = read_brief(local_model, request, brand="default", who=ModelCall.of(local_model), max_chars=4000)
    assert (result.brief, result.missing) == (None, ["channels"])
    assert clarifying_question(result.missing, request) == (
        "Nothing is made for TikTok and Pinterest: the channel catalog has no such channel. Which channels should we "
        f"write for? Choose from: {', '.join(channel_ids())}."
    )


@pytest.mark.llm
def test_contact_details_are_copied_from_the_request(local_model: LocalLlamaChat) -> None:
    request = ("Promote our linen tote bags on Etsy. Shop at northbound.coffee/totes, questions to "
               "hello@northbound.coffee or +44 20 7946 0958; northbound.coffee/totes again.")
    brief = read_brief(local_model, request, brand="default", who=ModelCall.of(local_model), max_chars=4000).brief
    assert brief is not None
    assert brief.contacts == ["northbound.coffee/totes", "hello@northbound.coffee", "+44 20 7946 0958"]


@pytest.mark.llm
def test_missing_essentials_are_named(local_model: LocalLlamaChat) -> None:
    result = read_brief(local_model, "Make something playful for commuters.", brand="default",
                        who=ModelCall.of(local_model), max_chars=4000)
    assert (result.brief, result.missing) == (None, ["product", "channels"])


@pytest.mark.parametrize(
    ("text", "message"),
    [("   ", "the brief is empty"), ("x" * 101, "the brief is 101 characters; the limit is 100")],
)
def test_bad_requests(text: str, message: str) -> None:
    with pytest.raises(BriefError, match=message):
        check_request(text, 100)


@pytest.mark.parametrize(
    ("model_says", "text", "product"),
    [
        ("Oat-Lemmäki", "Launch our oat-milk cold brew to Berlin commuters.", "oat-milk cold brew"),
        ("Etsy", "Promote our handmade linen tote bags on Etsy.", "handmade linen tote bags"),
        ("linen tote bags", "Promote our handmade linen tote bags on Etsy.", "linen tote bags"),
        ("", "Ads for the new Acme Payroll app, aimed at HR", "Acme Payroll app"),
        ("", "Make something playful for commuters.", ""),
        # the answer to "What product...?" is recorded as a Product line and wins over guesses
        ("Berlin", "Launch Northbound Oat Cold Brew on X.\nProduct: Northbound Oat Cold Brew", "Northbound Oat Cold Brew"),
        # the wording wins over a model that names another phrase of the request (the bundled model's answers)
        ("description", "Etsy listing + Instagram post for our new speckled stoneware mugs (350 ml). Include 'Each "
         "piece is unique' in the description.", "speckled stoneware mugs"),
        ("list", "Handmade ceramic planters (3 sizes). Etsy listing and a short email to my list.",
         "Handmade ceramic planters"),
        ("launch", "Sterling silver moon pendant, 45 cm chain. Need an Etsy listing for the launch.",
         "Sterling silver moon pendant"),
        # briefs written for this test, not read from the eval set
        ("", "Instagram carousel for the Kestrel 2 trail backpack, launching 3 May.", "Kestrel 2 trail backpack"),
        ("", "Birch & Brine smoked sea salt: Etsy listing please, earthy tone.", "Birch & Brine smoked sea salt"),
        ("", "Can you write a Facebook ad for our pottery workshop for beginners?", "pottery workshop"),
        ("", "Selling vintage denim jackets on Etsy, need a listing that sounds cool.", "vintage denim jackets"),
        ("", "LinkedIn post: we're introducing Payslip Pro, payroll for small charities.", "Payslip Pro"),
        ("", "Google search ads for Brightside Dental's teeth whitening offer in Cardiff.",
         "Brightside Dental's teeth whitening offer"),
        ("", "Quarterly webinar on tax changes for freelancers - LinkedIn and email please.",
         "Quarterly webinar on tax changes"),
        ("", "Launching Tidy, a budgeting app for couples. Instagram and X.", "Tidy"),
        ("", "RSA for Keyline Locksmiths in Manchester, fixed prices.", "Keyline Locksmiths"),
        ("", "omg finally launching my macrame wall hangings 🌿✨ need an etsy listing", "macrame wall hangings"),
        ("", "I run a dog grooming van in Galway and need a Facebook ad for it.", ""),  # "it" is not a product
        # a name and what it is, side by side after a comma, are read together; a list or a channel is not
        ("Ledgerly", "Email for Ledgerly, our invoicing app for plumbers: spring offer.",
         "Ledgerly, our invoicing app"),
        ("", "An X post about our new sourdough starter kit, Rise & Co 2.1 (ships in May).",
         "sourdough starter kit, Rise & Co 2.1"),
        ("", "Etsy listing for my beeswax candles, Honey Glow. Warm tone.", "beeswax candles, Honey Glow"),
        ("", "Instagram post for our ceramic mugs, bowls and plates.", "ceramic mugs"),
        ("", "Promote our oat cold brew, Instagram. Playful.", "oat cold brew"),
        ("Harbour", "Facebook ad for Harbour, a ferry café in Cork.", "Harbour"),
        # what something new is called
        ("", "From May we're adding a new class pass called Studio 8 to our yoga studio. Instagram, calm.", "Studio 8"),
        # a job is what a hiring post promotes
        ("Fernhill", "LinkedIn post: Fernhill Labs is hiring a data engineer (Python, remote).", "data engineer"),
        # a request that opens with what to make (a gift guide, a lookbook) names the product after "for"
        ("", "Holiday gift guide for our ceramic mugs on Instagram stories and Facebook, cozy tone.", "ceramic mugs"),
        ("", "Spring lookbook for the Meadow linen dress collection, Instagram.", "Meadow linen dress collection"),
        # what a deliverable is "for" may be its audience: the product is then elsewhere in the wording
        ("gift shoppers before Christmas", "Handmade ceramic mugs from our Lisbon studio: a Facebook post for gift "
         "shoppers before Christmas. Warm, honest tone.", "Handmade ceramic mugs"),
        ("", "Instagram post for busy parents about our new bento lunchbox. Playful.", "bento lunchbox"),
        ("", "An email for gift shoppers: our handmade linen tea towels, 3 for 25 EUR.", "handmade linen tea towels"),
        # a promotion ("Spring sale") reads on to what it promotes, not to a channel, people or a duration
        ("", "Spring sale for our handmade leather wallets: an Instagram post and a LinkedIn post for small-business "
         "owners.", "Spring sale for our handmade leather wallets"),
        ("", "Banners for our summer sale on garden furniture, 300x250 and 728x90.", "summer sale on garden furniture"),
        ("", "Black Friday sale on Instagram and email, bold.", ""),
        ("", "Flash sale for 48 hours on our ceramics, Instagram story.", "Flash sale"),
        ("", "Announce our winter sale for everyone on email.", "winter sale"),
        # "our"/"my" in the other languages intake reads: the eval set's German, Spanish, Italian and French briefs,
        # which intake asked the product of before, and three written for this test
        ("", "Bitte einen Newsletter und Google-Suchanzeigen auf Deutsch für unseren neuen Unverpackt-Laden in Köln: "
         "Eröffnung am 12. Mai.", "Unverpackt-Laden"),
        ("", "Necesito un anuncio de Facebook en español para nuestra clínica dental en Valencia: blanqueamiento "
         "dental con un 20 % de descuento.", "clínica dental"),
        ("", "Ci servono un post Instagram e una newsletter per la nostra gelateria a Bologna, Gelateria Nube.",
         "gelateria"),
        ("", "Il nous faut une annonce Facebook pour notre cabinet d'expertise comptable à Nantes, Comptaluce.",
         "cabinet d'expertise comptable"),
        ("", "Instagram-Post für meine handgemachten Seifen, bitte.", "handgemachten Seifen"),
        ("", "Post de Instagram para mis velas de soja artesanales.", "velas de soja artesanales"),
        ("", "Une story Instagram pour nos nouvelles bougies parfumées, faites main.", "bougies parfumées"),
    ],
)
def test_product_is_verbatim_from_the_brief(model_says: str, text: str, product: str) -> None:
    assert read_product(model_says, text) == product


def test_an_answer_to_the_product_question_alone_becomes_the_product_line() -> None:
    assert clarification_line(["product"], "Northbound Oat Cold Brew") == "Product: Northbound Oat Cold Brew"
    assert clarification_line(["product", "channels"], "Cold brew on X") == "Cold brew on X"
    assert clarification_line(["channels"], "X and LinkedIn") == "X and LinkedIn"


def test_template_text_the_model_fills_in_is_not_read_as_stated() -> None:
    # The bundled model answered the eval brief b036 with this audience: the request names the festival, not who
    # the ads are for, so the brief's audience stays empty.
    draft = {"product": "festival passes", "objective": "sell [number] festival passes",
             "audience": "[the festival's target audience]", "key_messages": ["passes for [Date]", "three stages"],
             "tone": []}
    brief = _read(draft, "Sell our festival passes on Instagram: three stages, one weekend.")
    assert (brief.product, brief.objective, brief.audience, brief.key_messages) == (
        "festival passes", "", "", ["three stages"])


@pytest.mark.parametrize(
    ("model_says", "text", "audience"),
    [
        # what the bundled model answered for eval briefs that name no audience (b031, b050, b034, b013)
        ("<strong>The people who will use this product</em>", "LinkedIn post: Tidewater is hiring a senior backend "
         "engineer (Go, Postgres, remote within the EU). Inclusive and straightforward.", ""),
        ("<em>The people who will use this campaign</strong>", "Dried flower bouquets: Etsy listing + Facebook ad. No "
         "water needed, they keep their colour for a year or more. Romantic, soft tone.", ""),
        ("Manchester, UK", "RSA for Keyline Locksmiths in Manchester, 30-minute response, fixed prices.", ""),
        ("#Munchen, eine neue Bike-Rentarbeit in Munich wird die Beste erfahrung aufwarten", "Need German copy for "
         "our Instagram feed: Radl&Go, our new e-bike rental in Munich, first hour free on your first ride.", ""),
        # people the request names, or what it is "to", in words code does not read as an audience
        ("solo runners", "Instagram post for Stride Clubs: until now the app was only used by solo runners.", "solo runners"),
        ("Gen Z", "Launch our oat cold brew to Gen Z on Instagram.", "Gen Z"),
        ("junge Familien", "Newsletter per E-Mail für junge Familien in Köln.\nProduct: Unverpackt-Laden",
         "junge Familien"),
    ],
)
def test_the_models_audience_is_kept_only_where_the_request_names_it(model_says: str, text: str,
                                                                      audience: str) -> None:
    draft = {"product": "", "objective": "", "audience": model_says, "key_messages": [], "tone": []}
    assert _read(draft, text).audience == audience


def test_a_figure_the_model_changed_is_not_read_as_stated() -> None:
    # The bundled model read "Free shipping over 500 NOK" as the objective "Free shipping over 50 NOK": copy written
    # from it would promise the wrong threshold. A value keeps only figures the request has.
    draft = {"product": "merino base layers", "objective": "Free shipping over 50 NOK",
             "audience": "hikers aged 25-40", "key_messages": ["10% off until 1 October", "Free shipping over 500 NOK"],
             "tone": []}
    brief = _read(draft, "Instagram post for our merino base layers, for hikers. Free shipping over 500 NOK, 10% off "
                         "until 1 October.")
    # the audience is the request's own "for hikers", not the model's "hikers aged 25-40"
    assert (brief.objective, brief.audience, brief.key_messages) == (
        "", "hikers", ["10% off until 1 October", "Free shipping over 500 NOK"])


@pytest.mark.parametrize(
    ("text", "audience", "tone"),
    [
        ("Holiday gift push for the Lumen Travel Tin on Facebook and X. Audience: busy parents looking for stocking "
         "stuffers. Cozy and warm.", "busy parents looking for stocking stuffers", ["cozy", "warm"]),
        ("Etsy listing for hand-dyed yarn. Audience: knitters and crocheters; tone: cosy, colourful.",
         "knitters and crocheters", ["cosy", "colourful"]),
        ("Launch our running shoes to marathon runners on Instagram. Sleek, modern, a bit cheeky.",
         "marathon runners", ["sleek", "modern", "cheeky"]),
        ("Instagram story for our gym, for people over 60 who want to stay strong. Encouraging, never preachy.",
         "people over 60 who want to stay strong", ["encouraging"]),
        ("Google Ads for our dental clinic, aimed at nervous patients. Calm, reassuring, professional.",
         "nervous patients", ["calm", "reassuring", "professional"]),
        ("Email to our subscribers about the spring collection, friendly tone, must include 'Unsubscribe anytime'",
         "our subscribers", ["friendly"]),
        ("Google Ads for a bike repair shop in Utrecht. Same-day fixes. Tone: practical, no-nonsense.", "",
         ["practical", "no-nonsense"]),
        ("X post for our API v3. For developers building payment apps. Tone = precise", "developers building payment "
         "apps", ["precise"]),
        ("Facebook ad for our farm shop: fresh eggs, raw honey. Wholesome and down-to-earth vibe.", "",
         ["wholesome", "down-to-earth"]),
        ("Newsletter per E-Mail. Zielgruppe: junge Familien. Ton: herzlich, unkompliziert.\nProduct: Unverpackt-Laden",
         "junge Familien", ["herzlich", "unkompliziert"]),
        # product qualities, and what a post is for, are neither the tone nor the audience
        ("Instagram post: new colours for our kids' raincoats. Bright, waterproof, machine washable.", "", []),
        ("Etsy listing for our oak chopping boards. Premium, handmade, durable. Fast shipping, easy returns.", "", []),
        ("Facebook ad for our bakery. For Christmas. Open late on Fridays.", "", []),
        ("Instagram post for our mugs. Target: 500 sign-ups by May. Target audience: tea lovers.", "tea lovers", []),
    ],
)
def test_audience_and_tone_the_brief_states_are_read_by_code(text: str, audience: str, tone: list[str]) -> None:
    # The model read neither (as the bundled one often does not: 36% and 17% right on the eval set before code read
    # them), or read them wrong: code's reading wins.
    draft = {"product": "", "objective": "", "audience": "shoppers", "key_messages": [], "tone": ["loud"]}
    brief = _read(draft, text)
    assert (brief.audience, brief.tone) == (audience, tone)


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        ("Etsy listing for our lavender candles. Mention free gift wrapping.", ["free gift wrapping"]),
        ("Instagram post for our mugs. Please highlight that shipping is free, but don't say 'cheap'.",
         ["shipping is free"]),
        ("Email about our desks: remember to stress the 10-year warranty. Highlight: free returns",
         ["the 10-year warranty", "free returns"]),
        # a quoted ask is a mandatory element, a negated one is not asked, "we mention" is no instruction, and the
        # French label "Mention obligatoire :" is mandatory's
        ("Instagram post for our cold brew. Must mention 'Contains oats'. No need to mention the price.", []),
        ("Facebook ad for our bakery. We mention our founders in every post. Be sure to mention them.", []),
        ("Annonce Facebook. Mention obligatoire : 'Tarif hors taxes'.\nProduct: Comptaluce", []),
    ],
)
def test_points_the_brief_asks_for_in_its_own_words_are_key_messages(text: str, messages: list[str]) -> None:
    draft = {"product": "", "objective": "", "audience": "", "key_messages": [], "tone": []}
    assert _read(draft, text).key_messages == messages


@pytest.mark.parametrize(
    ("text", "locale", "line"),
    [
        ("Need German copy for our Instagram feed: Radl&Go, our new e-bike rental in Munich.", "de",
         "e-bike rental on instagram_feed; in German"),
        ("Northbound Oat Cold Brew for Berlin commuters, copy in German please. Instagram story.", "de",
         "Northbound Oat Cold Brew on instagram_story; for Berlin commuters; in German"),
        ("Necesito un anuncio de Facebook en español para nuestra clínica dental en Valencia.", "es",
         "clínica dental on facebook_feed; in Spanish"),
        ("Bonjour ! Une annonce LinkedIn en français pour notre cabinet à Nantes.", "fr",
         "cabinet on linkedin_post; in French"),
        # a language that names no language of the copy, and a brief that names none: English
        ("Instagram post for our French oak barrels, launching in German cities.", "en",
         "French oak barrels on instagram_feed"),
        ("Instagram post for our oat cold brew.", "en", "oat cold brew on instagram_feed"),
    ],
)
def test_the_language_the_brief_asks_for_is_its_locale(text: str, locale: str, line: str) -> None:
    brief = _read({"product": "", "objective": "", "audience": "", "key_messages": [], "tone": []}, text)
    assert (brief.locale, brief_line(brief)) == (locale, line)


def test_an_objective_label_is_read_by_code() -> None:
    draft = {"product": "", "objective": "", "audience": "", "key_messages": [], "tone": []}
    brief = _read(draft, "Instagram post for our oat cold brew.\nGoal: 500 sign-ups for the tasting on 3 May\n")
    assert brief.objective == "500 sign-ups for the tasting on 3 May"


def test_the_brief_line_shows_the_words_code_read() -> None:
    """What the marketer checks before any copy is written: the product, the channels, who it is for, the tone and
    the quoted words."""
    brief = CreativeBrief(product="merino base layers", channels=["instagram_feed", "email"], audience="hikers",
                          tone=["warm", "funny"], mandatory_elements=["Free shipping over 500 NOK", "T&Cs apply"],
                          forbidden_terms=["itch-free"], unsupported_platforms=["TikTok"])
    assert brief_line(brief) == (
        "merino base layers on instagram_feed, email; for hikers; tone warm, funny; must say 'Free shipping over 500 "
        "NOK', 'T&Cs apply'; never say 'itch-free'; nothing is made for TikTok: the channel catalog has no such "
        "channel")
    assert brief_line(CreativeBrief(product="mugs", channels=["etsy_listing"])) == "mugs on etsy_listing"
