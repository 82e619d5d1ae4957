"""Contact details in text: web addresses, email addresses and phone numbers.

Intake copies the ones a brief states, the brand kit the ones its guidelines list, and the copy checks flag any
other in copy (``contact-detail``): a model makes them up, and they send customers somewhere else.
"""

from __future__ import annotations

import re

__all__ = ["contact_details", "contact_key"]

#: Top-level domains a bare host name ("northbound.coffee") is recognised by; with "https://" or "www." any host is.
_TLDS = (
    "com|net|org|info|biz|io|co|ai|app|dev|me|tv|ly|gl|xyz|link|page|shop|store|online|site|website|studio|design|"
    "art|tech|agency|club|coffee|eco|earth|berlin|london|uk|de|fr|es|it|nl|be|at|ch|se|no|dk|fi|ie|pl|pt|cz|eu|us|"
    "ca|au|nz|jp|in|br|mx|za|example"
)
_LINK_END = r"[^\s<>\"'()]*[^\s<>\"'().,;:!?\]]"  # not ending in the punctuation or bracket that follows it
_CONTACT = re.compile(
    r"(?P<email>[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
    rf"|(?P<link>(?:https?://|www\.){_LINK_END}"
    rf"|(?<![\w@.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:{_TLDS})(?![\w-])(?:/{_LINK_END})?)"
    r"|(?P<phone>(?<![\w+/.-])(?:\+|\(\+?)?\d[\d ().-]{6,}\d(?![\w/-]|\.\w))",
    re.IGNORECASE,
)
#: What every contact detail contains (an "@", "://", "www.", a dot before a top-level domain, or a run of 8+ digits
#: and separators): one cheap search that lets copy without any skip ``_CONTACT`` (a quarter of its time).
_CONTACT_HINT = re.compile(rf"@|://|www\.|[A-Za-z0-9]\.(?:{_TLDS})(?![\w-])|\d[\d ().-]{{6,}}\d", re.IGNORECASE)
#: A phone number has 9 to 15 digits (ITU E.164 allows 15) in groups, one of 3 digits or more ("36 38 40 42 44" is
#: a size run); an ISO date is not one.
_PHONE_DIGITS = (9, 15)


def _a_phone(text: str) -> bool:
    groups = re.findall(r"\d+", text)
    digits = sum(len(group) for group in groups)
    return (_PHONE_DIGITS[0] <= digits <= _PHONE_DIGITS[1] and max(len(group) for group in groups) >= 3
            and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) and not _a_product_code(text, groups))


def _a_product_code(text: str, groups: list[str]) -> bool:
    """Whether ``text`` is a barcode number (UPC-A, EAN-13, GTIN-14: 12 to 14 digits unbroken) or a hyphenated ISBN
    (4 or 5 groups, the last one digit) whose check digit is right. Product listings carry them; a phone number
    written so has 1 chance in 10 or 11 of passing the check, and one with a "+" or hyphenated as 3-3-4 none."""
    digits = "".join(groups)
    if len(groups) == 1 and len(digits) in (12, 13, 14) and text == digits:
        return _gs1_check_digit(digits)
    if not re.fullmatch(r"\d+(?:-\d+){3,4}", text) or len(groups[-1]) != 1:
        return False
    if len(digits) == 13:
        return digits.startswith(("978", "979")) and _gs1_check_digit(digits)
    return len(digits) == 10 and sum(int(d) * (10 - i) for i, d in enumerate(digits)) % 11 == 0  # ISBN-10


def _gs1_check_digit(digits: str) -> bool:
    """GS1's check: weights 3, 1, 3, ... from the right of the digits before the last, which makes the sum a multiple
    of 10."""
    body = sum(int(d) * (1 + 2 * (i % 2 == 0)) for i, d in enumerate(reversed(digits[:-1])))
    return (body + int(digits[-1])) % 10 == 0


def contact_details(text: str) -> list[tuple[str, str, tuple[int, int]]]:
    """``(kind, text, span)`` of every email address, web address and phone number in ``text``, kind 'email',
    'link' or 'phone': a web address has "https://", "www." or a common top-level domain ("northbound.coffee")."""
    if not _CONTACT_HINT.search(text):
        return []
    return [
        (str(match.lastgroup), match.group(0), match.span()) for match in _CONTACT.finditer(text)
        if match.lastgroup != "phone" or _a_phone(match.group(0))
    ]


def contact_key(kind: str, text: str) -> str:
    """What two spellings of one contact share: a web address's host (no scheme, no "www."), an email address in
    lower case, a phone number's last 9 digits (with or without the country code)."""
    if kind == "link":
        return re.sub(r"^(?:https?://)?(?:www\.)?", "", text.lower()).split("/")[0]
    if kind == "phone":
        return re.sub(r"\D", "", text)[-_PHONE_DIGITS[0]:]
    return text.lower()
