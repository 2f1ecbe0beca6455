"""Likely PHI in training text: what kind, in which message, at which characters; never the
matched text itself, so a report can be shared with the reviewers it warns.

What is looked for follows HIPAA's Safe Harbor list of identifiers "of the individual or of
relatives, employers, or household members of the individual" (45 CFR 164.514(b)(2)(i), read
2026-12-07 at https://www.law.cornell.edu/cfr/text/45/164.514): names (next to a label such
as "Patient:" or an honorific), street addresses and city/state/ZIP, dates of birth (in a
birth context: other dates are too common in clinical text to flag alone), phone numbers,
e-mail addresses, SSNs, medical record and account numbers, health plan member ids, and the
Medicare Beneficiary Identifier. The MBI's format is CMS's "Understanding the Medicare
Beneficiary Identifier (MBI) Format" (https://www.cms.gov/medicare/new-medicare-card/understanding-the-mbi.pdf,
read 2026-12-07): 11 characters C A AN N A AN N A A N N, C = 1-9, N = 0-9, A = a letter other
than S, L, O, I, B, Z; printed with dashes as 1EG4-TE5-MK73, stored without.

An NPI is not flagged: it identifies a provider and is published in CMS's NPPES registry; it is
not an identifier of the patient or the patient's relatives, employers or household (the Safe
Harbor list above), and clinical letters rightly carry it.

Detection is by pattern, tuned for recall on identifiers a person wrote into an example; it is
a screen, not a de-identification (a name in free prose with no label is not found).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_MBI_A = "AC-HJKMNP-RT-Y"  # A..Z without S, L, O, I, B, Z
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_DATE = (r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?!\d)|\d{4}[/.-]\d{1,2}[/.-]\d{1,2}(?!\d)"
         rf"|(?i:{_MONTH})\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
         rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?i:{_MONTH}),?\s+\d{{4}})")
_STREET = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|"
           r"Place|Pl|Terrace|Ter|Circle|Cir|Highway|Hwy|Parkway|Pkwy|Square|Sq|Trail|Trl|"
           r"Alley|Row|Crescent|Close)")
_STATES = ("AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|"
           "NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR")
_NAME = (r"[A-Z][a-z'\-]+(?:\s+[A-Z]\.?)?\s+(?:(?:van|von|de|der|den|da|del|della|di|du|la|le|"
         r"bin|ibn|al)\s+)*[A-Z][a-z'\-]+(?:-[A-Z][a-z]+)?")
_ID_VALUE = r"(?=[A-Za-z-]*\d)[A-Za-z0-9][A-Za-z0-9-]{4,19}"

_LABEL = (r"(?:patient|pt|name|patient name|member|subscriber|insured|beneficiary|guarantor|"
          r"resident|client|parent|guardian|spouse|emergency contact)")


@dataclass(frozen=True)
class Detector:
    """One way a kind shows up. `triggers`: cheap tests, one of which must hold before the
    regex runs (most text passes none): "#N" (at least N digits), a word of the lower-cased
    text (letters only: "D.O.B." holds the word "d"), or "=X" for a case-sensitive substring.
    `label`: a regex the text just before the match must end
    with (searched backwards from a separator-anchored match, which scans far faster than a
    pattern that starts with a long alternation)."""

    kind: str
    pattern: str
    triggers: tuple[str, ...]
    label: str | None = None
    lower: bool = False  # a lower-case pattern, run on the lower-cased text (faster than (?i))


# No pattern starts with a look-behind (it defeats the engine's fast scan): a match preceded by
# a letter or digit is dropped in Python instead.
DETECTORS = (
    Detector("email address", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
             ("=@",)),
    Detector("SSN", r"\d{3}-\d{2}-\d{4}(?![\d-])", ("#9",)),
    Detector("SSN", r"(?:ssn|ss#|social security(?: number| no\.?| #)?)"
                    r"[\s:#.-]*(?:is\s+)?\d{3}[ .-]?\d{2}[ .-]?\d{4}(?!\d)", ("ssn", "ss", "social"),
             lower=True),
    Detector("phone number", r"(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\d-])",
             ("#10",)),
    Detector("MRN-like identifier",
             r"(?:mrn|medical record (?:number|no\.?|#)|patient id|chart (?:number|no\.?|#)|"
             r"account (?:number|no\.?|#)|acct\.? ?(?:no\.?|#)?)[\s:#.-]*" + _ID_VALUE,
             ("mrn", "medical", "chart", "account", "acct", "id"), lower=True),
    Detector("member id",
             r"(?:(?:member|subscriber|policy|insurance|insured|group|plan|medicaid|beneficiary)"
             r"\s*(?:id|identification|number|no\.?|#|num)(?:\s*(?:number|no\.?|#))?)[\s:#.-]*"
             + _ID_VALUE,
             ("member", "subscriber", "policy", "insurance", "insured", "group", "plan", "medicaid",
              "beneficiary"), lower=True),
    Detector("Medicare MBI", rf"[1-9][{_MBI_A}][{_MBI_A}0-9]\d-?[{_MBI_A}][{_MBI_A}0-9]\d-?"
                             rf"[{_MBI_A}]{{2}}\d{{2}}(?![A-Za-z0-9])", ("#5",)),
    Detector("date of birth", r"(?:dob|d\.o\.b\.?|date of birth|birth ?date|birthday|born)"
                              r"(?:[\s:#.,-]|on|the|is|was){0,6}" + _DATE,
             ("dob", "d", "birth", "birthdate", "birthday", "born"), lower=True),
    Detector("street address", r"\d\d{0,5}[A-Za-z]?\s+(?:(?:[NSEW]\.?|North|South|East|West)\s+)?"
                               r"(?:(?:[A-Z][A-Za-z'-]*|\d+(?:st|nd|rd|th))\s+){1,3}" + _STREET + r"\b",
             tuple(_STREET[3:-1].lower().split("|"))),  # a street word; the regex needs a digit
    Detector("street address", r"P\.?\s?O\.?\s+Box\s+\d+", ("box",)),
    Detector("street address", rf",\s*(?:{_STATES})\s+\d{{5}}(?:-\d{{4}})?(?!\d)", ("#5",),
             label=r"[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?"),   # City, ST 12345
    Detector("person name", r"[:\-]\s*" + _NAME, ("=:", "=-"), label=rf"(?i:{_LABEL})\s*"),
    Detector("person name", r"(?:named|[Dd]ear)\s+" + _NAME, ("named", "dear")),
    Detector("person name", r"(?:Mr|Mrs|Ms|Miss|Mx)\.?\s+[A-Z][a-z'\-]+", ("mr", "mrs", "ms", "miss", "mx")),
)
KINDS = tuple(dict.fromkeys(d.kind for d in DETECTORS))
# Capitalised words of headings and departments, never a person's name: "Patient - Initial
# Visit", "Dear Billing Department" and "Client: Acme Health" are not names.
_NOT_NAMES = frozenset("""Access Account Acute Admission Admissions Appointment Assessment
    Authorization Billing Care Center Centre Claim Claims Clinic Clinical Coordinator Counselor
    Customer Department Dept Discharge Education Emergency Financial Follow Group Health History
    Hospital Information Initial Instructions Insurance Intake Management Manager Medical Medicine
    New Note Notes Nurse Nursing Office Patient Patients Pharmacy Plan Portal Practice Prior
    Program Provider Record Records Referral Relations Representative Request Review Service
    Services Summary Support Surgery Team Unit Visit Ward""".split())
_CAPITALISED = re.compile(r"[A-Z][a-z]+")
# (detector, (fewest digits or None, trigger words, case-sensitive substrings), pattern, label)
_COMPILED = [(d, (min((int(t[1:]) for t in d.triggers if t[0] == "#"), default=None),
                  frozenset(t.encode() for t in d.triggers if t[0] not in "=#"),
                  tuple(t[1:] for t in d.triggers if t[0] == "=")),
              re.compile(d.pattern), re.compile(d.pattern, re.I) if d.lower else None,
              re.compile(rf"{d.label}$") if d.label else None)
             for d in DETECTORS]
_NOT_DIGITS = bytes(c for c in range(256) if not 48 <= c <= 57)
# lower-cases ASCII letters, keeps other UTF-8 bytes, turns the rest into spaces: split() then
# gives the words, all in C
_WORD_BYTES = bytes(c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 or c >= 128 else 32
                    for c in range(256))
_TRIGGER_WORDS = frozenset(t.encode() for d in DETECTORS for t in d.triggers if t[0] not in "=#")
_LOOKBACK = 40  # characters searched backwards for a label


@dataclass(frozen=True)
class Finding:
    """One likely identifier: which message, its kind, and its 1-based character columns."""

    message: int
    role: str
    kind: str
    start: int
    end: int

    def where(self) -> str:
        return f"message {self.message} ({self.role}) chars {self.start}-{self.end}"


def find(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of each likely identifier in one text, 1-based inclusive columns."""
    raw = text.encode()
    digits = len(raw.translate(None, _NOT_DIGITS))
    words = _TRIGGER_WORDS.intersection(raw.translate(_WORD_BYTES).split())
    found = set()
    lower = None
    for detector, (fewest, trigger_words, substrings), regex, anycase, label in _COMPILED:
        if not ((fewest is not None and digits >= fewest) or not words.isdisjoint(trigger_words)
                or any(sub in text for sub in substrings)):
            continue
        searched = text
        if detector.lower:
            lower = text.lower() if lower is None else lower
            # str.lower() keeps every position unless a non-ASCII letter grows (İ -> i̇)
            searched, regex = (lower, regex) if len(lower) == len(text) else (text, anycase)
        for match in regex.finditer(searched):
            if detector.kind == "person name" and not _NOT_NAMES.isdisjoint(
                    _CAPITALISED.findall(match.group())):
                continue
            start = match.start()
            if label is not None:
                before = label.search(text, max(0, start - _LOOKBACK), start)
                if before is None:
                    continue
                start = before.start()
            if start and (text[start - 1].isalnum() or text[start - 1] == "-"):
                continue
            found.add((detector.kind, start + 1, match.end()))
    # one finding per place: a span inside another of the same kind (a labelled SSN and its
    # bare number) is the same identifier
    return sorted((f for f in found if not any(
        g != f and g[0] == f[0] and g[1] <= f[1] and f[2] <= g[2] for g in found)),
        key=lambda f: (f[1], f[0]))


def scan(messages: list[dict[str, str]]) -> list[Finding]:
    """Every finding in a conversation, in message and column order."""
    if len(messages) > 1 and not find("\n".join(m["content"] for m in messages)):
        return []  # the common case: one pass over the whole conversation finds nothing
    return [Finding(i, msg["role"], kind, start, end)
            for i, msg in enumerate(messages, start=1)
            for kind, start, end in find(msg["content"])]


def file_columns(finding: Finding, content: str, raw_line: str | None) -> tuple[int, int] | None:
    """The 1-based columns of a finding in its JSONL line (what an editor jumps to), when the
    message's text appears there as one JSON string (as json.dumps writes it, escaped or not);
    None otherwise (CSV, Parquet, a pair joined from several fields)."""
    if raw_line is None:
        return None
    for ascii_only in (False, True):
        encoded = json.dumps(content, ensure_ascii=ascii_only)
        at = raw_line.find(encoded)
        if at >= 0:   # at: the opening quote; each prefix's encoded length counts its escapes
            start = at + len(json.dumps(content[:finding.start - 1], ensure_ascii=ascii_only))
            end = at + len(json.dumps(content[:finding.end], ensure_ascii=ascii_only)) - 1
            return start, end
    return None


def read_lines(file: Path, wanted: set[int]) -> dict[int, str]:
    """Lines `wanted` (1-based) of a text file, read in one streaming pass."""
    found: dict[int, str] = {}
    with file.open(encoding="utf-8-sig", errors="replace") as fh:
        for number, text in enumerate(fh, start=1):
            if number in wanted:
                found[number] = text
                if len(found) == len(wanted):
                    break
    return found
