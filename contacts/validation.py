"""Normalising and validating contact fields: one rule set for forms, the API and imports.

Every ``normalize_*`` function takes raw text and returns the stored value, or raises
``django.core.exceptions.ValidationError`` with a message for the person who typed it.
Blank input stays blank (``""``): "not known" is a valid state for every contact field
except the CRM id.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache, lru_cache

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

# --- Phone region -------------------------------------------------------------------
#
# Phone numbers written without a country code ("030 1234567") are read in the
# organization's region. Organizations store a time zone, not a country, so the region
# comes from this table. Add a row when an organization in another country signs up.
TIMEZONE_REGIONS: dict[str, str] = {
    "Europe/Berlin": "DE",
    "Europe/Zurich": "CH",
    "Europe/Vienna": "AT",
    "Europe/London": "GB",
}
# Time zone prefixes that map to one region (North American numbering plan: +1).
TIMEZONE_PREFIX_REGIONS: tuple[tuple[str, str], ...] = (("America/", "US"),)
FALLBACK_REGION = "DE"


def region_for_timezone(timezone_name: str) -> str:
    """The phone region (ISO 3166 alpha-2) for an organization's time zone."""
    if timezone_name in TIMEZONE_REGIONS:
        return TIMEZONE_REGIONS[timezone_name]
    for prefix, region in TIMEZONE_PREFIX_REGIONS:
        if timezone_name.startswith(prefix):
            return region
    return FALLBACK_REGION


# --- Fields -------------------------------------------------------------------------

CRM_ID_MAX_LENGTH = 100
NAME_MAX_LENGTH = 150


def normalize_crm_id(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValidationError(_("The CRM id is required."), code="required")
    if len(value) > CRM_ID_MAX_LENGTH:
        raise ValidationError(
            _("The CRM id is longer than %(max)d characters."),
            code="max_length",
            params={"max": CRM_ID_MAX_LENGTH},
        )
    return value


def normalize_name(raw: str) -> str:
    value = " ".join(raw.split())
    if len(value) > NAME_MAX_LENGTH:
        raise ValidationError(
            _("The name is longer than %(max)d characters."),
            code="max_length",
            params={"max": NAME_MAX_LENGTH},
        )
    return value


def normalize_email(raw: str) -> str:
    """A valid address, lower-cased; blank stays blank."""
    value = raw.strip()
    if not value:
        return ""
    value = value.lower()
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(
            _("“%(value)s” is not a valid email address."),
            code="invalid_email",
            params={"value": raw.strip()},
        ) from None
    return value


def normalize_phone(raw: str, region: str) -> str:
    """A valid number in E.164 (``+4930123456``); national numbers are read in ``region``."""
    value = raw.strip()
    if not value:
        return ""
    return _phone_e164(value, region)


@lru_cache(maxsize=8192)
def _phone_e164_cached(value: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    # What ``format_number(number, E164)`` returns for a valid number, without its
    # per-call metadata lookups (a third of the cost of a bulk upsert's phone column).
    return f"+{number.country_code}{phonenumbers.national_significant_number(number)}"


def _phone_e164(value: str, region: str) -> str:
    e164 = _phone_e164_cached(value, region) if len(value) <= 40 else None
    if e164 is None:
        raise ValidationError(
            _("“%(value)s” is not a valid phone number."),
            code="invalid_phone",
            params={"value": value[:40]},
        )
    return e164


def phone_search_variant(term: str, region: str) -> str | None:
    """The E.164 form of a search term that is a phone number, else None."""
    if sum(ch.isdigit() for ch in term) < 5:
        return None
    return _phone_e164_cached(term.strip(), region) if len(term) <= 40 else None


@cache
def _language_aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for code, name in settings.LANGUAGES:
        aliases[code.lower()] = code
        info = translation.get_language_info(code)
        aliases[str(info["name"]).lower()] = code
        aliases[str(info["name_local"]).lower()] = code
        for other, _name in settings.LANGUAGES:
            with translation.override(other):
                aliases[str(name).lower()] = code
    return aliases


def normalize_language(raw: str) -> str:
    """A code of ``settings.LANGUAGES``: accepts ``de``, ``de-CH``, ``German``, ``Deutsch``."""
    value = raw.strip()
    if not value:
        return ""
    aliases = _language_aliases()
    lowered = value.lower()
    code = aliases.get(lowered) or aliases.get(re.split(r"[-_]", lowered, maxsplit=1)[0])
    if code is None:
        raise ValidationError(
            _("“%(value)s” is not a supported language (use one of: %(codes)s)."),
            code="invalid_language",
            params={"value": value, "codes": ", ".join(c for c, _n in settings.LANGUAGES)},
        )
    return code


@cache
def _timezones() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def normalize_timezone(raw: str) -> str:
    """A known IANA time zone such as ``Europe/Berlin`` (any letter case)."""
    value = raw.strip()
    if not value:
        return ""
    name = _timezones().get(value.lower())
    if name is None:
        raise ValidationError(
            _("%(value)s is not a known time zone."),
            code="invalid_timezone",
            params={"value": value},
        )
    return name


# --- CRM attributes -----------------------------------------------------------------

ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
_INTEGER = re.compile(r"^-?(?:0|[1-9][0-9]{0,17})$")
_DECIMAL = re.compile(r"^-?(?:0|[1-9][0-9]{0,17})[.,][0-9]{1,10}$")

AttributeValue = str | int | float


def validate_attribute_key(key: str) -> str:
    if not ATTRIBUTE_KEY.match(key):
        raise ValidationError(
            _(
                "“%(key)s” is not a valid attribute key: use lower-case letters, digits and "
                "underscores, starting with a letter (at most 50 characters)."
            ),
            code="invalid_key",
            params={"key": key},
        )
    return key


_UMLAUTS: dict[str, str | int | None] = {
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "ß": "ss",
    "Ä": "Ae",
    "Ö": "Oe",
    "Ü": "Ue",
}
UMLAUTS = str.maketrans(_UMLAUTS)


def attribute_key_for(header: str) -> str:
    """A suggested attribute key for a column header: ``Account Owner`` -> ``account_owner``."""
    key = slugify(header.translate(UMLAUTS)).replace("-", "_").strip("_")[:50]
    if not key or not key[0].isalpha():
        key = f"col_{key}"[:50].rstrip("_")
    return key


def parse_attribute_value(raw: str) -> AttributeValue:
    """Numbers become numbers (so they can be compared), everything else stays text.

    ``42`` and ``-7`` become integers, ``1234.5`` and ``1234,5`` (decimal comma, as in
    German spreadsheets) floats. Leading zeros (``007``, postcodes) and thousands
    separators keep the value as text.
    """
    value = raw.strip()
    if _INTEGER.match(value):
        return int(value)
    if _DECIMAL.match(value):
        return float(value.replace(",", "."))
    return value
