"""Scoring a model's answer against the expected one.

Small models rarely answer in a clean format, so extraction is forgiving:
it looks for an explicit final answer first ("#### 18", "The answer is $18.",
"Answer: 18 eggs", "\\boxed{18}") and only then falls back to the last number
in the text (lm-evaluation-harness's GSM8K "flexible extract"). Inside the
answer clause an expression or a time counts by the number it ends on: the
result after "=", else the clause's last number ("310 - 13 = 227" reads 227).
The extracted value and the rule that found it are kept next to the verdict, so
a user can see *why* an answer was marked wrong.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from fractions import Fraction

log = logging.getLogger(__name__)

MATCH_NUMBER = "number"
MATCH_EXACT = "exact"
MATCH_REGEX = "regex"
MATCH_CHOICE = "choice"
MATCH_KINDS = (MATCH_NUMBER, MATCH_EXACT, MATCH_REGEX, MATCH_CHOICE)
CHOICE_LETTERS = "ABCDE"  # the options a multiple-choice task can offer
_REGEX_FLAGS = re.IGNORECASE | re.MULTILINE


@dataclass(frozen=True)
class Verdict:
    correct: bool
    extracted: str | None  # what was read out of the answer; None: nothing found
    rule: str = ""  # which extraction rule found it, e.g. "answer is: = result"


# A number as people write it: -1,234.5  $18  3/4  12%  .5
_NUMBER_RE = re.compile(r"(?<![\w.])[-−]?\$?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:/\d+)?|(?<![\w.])\.\d+")

# Markers after which the final answer is written, strongest first, with the
# names the items export gives them.
_FINAL_MARKERS = (
    ("####", re.compile(r"####\s*(?P<rest>[^\n]*)")),
    ("boxed", re.compile(r"\\boxed\{(?P<rest>[^}]*)\}")),
    ("answer is", re.compile(r"(?:the\s+)?(?:final\s+)?answer\s+is\s*:?\s*(?P<rest>[^\n]*)", re.IGNORECASE)),
    ("answer:", re.compile(r"(?:final\s+)?answer\s*[:=]\s*(?P<rest>[^\n]*)", re.IGNORECASE)),
)
RULE_LAST_NUMBER = "last number in reply"

# Where the answer clause ends: a sentence end (not a decimal point), a
# semicolon, a comma before a word (not a thousands separator), or "because".
_CLAUSE_END = re.compile(r"[.!?;](?=\s|$)|,(?=\s+\D)|\s(?:because|since|so|as)\s", re.IGNORECASE)


def final_answer(text: str) -> tuple[str, str] | None:
    """The text after the last, strongest "final answer" marker and the marker's
    name, or None."""
    for name, marker in _FINAL_MARKERS:
        hits = list(marker.finditer(text))
        for m in reversed(hits):
            rest = m.group("rest").strip()
            if rest:
                return rest, name
    return None


def parse_number(token: str) -> Fraction | None:
    """'$1,234.50' -> 1234.5, '3/4' -> 0.75, '−2' -> -2; None if not a number."""
    s = token.strip().replace("−", "-").replace("$", "").replace(",", "").replace(" ", "")
    s = s.rstrip("%")
    if not s:
        return None
    try:
        if "/" in s:
            num, den = s.split("/", 1)
            return Fraction(num) / Fraction(den) if Fraction(den) != 0 else None
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def _numbers_in(text: str) -> list[str]:
    return [m.group(0) for m in _NUMBER_RE.finditer(text)]


def extract_number_with_rule(text: str) -> tuple[str | None, str]:
    """The answer's number as written (normalised) and the rule that found it.

    After a final-answer marker only the answer clause counts ("The answer is
    18 eggs, because 9*2=18" reads 18): its result after "=" if it has one
    ("310 - 13 = 227." reads 227), else its last number ("1:10." reads 10).
    Without a marker, the last number anywhere in the text.
    """
    found = final_answer(text)
    if found is not None:
        span, marker = found
        clause = _CLAUSE_END.split(span, maxsplit=1)[0]
        if "=" in clause:
            after = _numbers_in(clause.rsplit("=", 1)[1])
            if after:
                return _normalised(after[0]), f"{marker}: = result"
        numbers = _numbers_in(clause) or _numbers_in(span)[:1]
        if numbers:
            return _normalised(numbers[-1]), f"{marker}: last number in clause"
    numbers = _numbers_in(text)
    if not numbers:
        return None, "no number"
    return _normalised(numbers[-1]), RULE_LAST_NUMBER


def _normalised(raw: str) -> str | None:
    value = parse_number(raw)
    return format_number(value) if value is not None else None


def format_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    as_float = float(value)
    return f"{as_float:.10g}"


def numbers_equal(a: str, b: str) -> bool:
    x, y = parse_number(a), parse_number(b)
    if x is None or y is None:
        return False
    if x == y:
        return True
    # Decimals written with fewer digits (0.33 for 1/3) are not accepted, but
    # float round-off in a model's own arithmetic is.
    return math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-9)


_PUNCT = re.compile(r"[^\w\s]")


def normalize_text(text: str) -> str:
    """Case, punctuation, articles and extra spaces do not count."""
    t = _PUNCT.sub(" ", text.casefold())
    words = [w for w in t.split() if w not in ("a", "an", "the")]
    return " ".join(words)


def _first_sentence(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]


def extract_exact_with_rule(text: str) -> tuple[str | None, str]:
    found = final_answer(text)
    if found is None:
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        span, rule = (lines[-1] if lines else ""), "last line"
    else:
        span, rule = found
    out = normalize_text(_first_sentence(span))
    return (out or None), rule


_CHOICE_RE = re.compile(rf"(?<![A-Za-z])\(?([{CHOICE_LETTERS}{CHOICE_LETTERS.lower()}])\)?(?![A-Za-z])")


def extract_choice_with_rule(text: str) -> tuple[str | None, str]:
    found = final_answer(text)
    if found:
        m = _CHOICE_RE.search(found[0])
        if m:
            return m.group(1).upper(), found[1]
    # Without a marker, the last standalone capital letter is the likeliest pick.
    hits = [h for h in _CHOICE_RE.finditer(text) if h.group(1).isupper()]
    return (hits[-1].group(1), "last capital letter") if hits else (None, "no letter")


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used as a regex answer, or None when it compiles."""
    try:
        re.compile(pattern, _REGEX_FLAGS)
    except re.error as exc:
        return exc.msg + (f" at position {exc.pos}" if exc.pos is not None else "")
    return None


def score(answer: str, expected: str | tuple[str, ...], match: str) -> Verdict:
    """Judge one answer. `expected` may list several accepted answers (exact)."""
    accepted = (expected,) if isinstance(expected, str) else tuple(expected)
    if match == MATCH_NUMBER:
        got, rule = extract_number_with_rule(answer)
        return Verdict(got is not None and any(numbers_equal(got, e) for e in accepted), got, rule)
    if match == MATCH_EXACT:
        got, rule = extract_exact_with_rule(answer)
        if got is None:
            return Verdict(False, None, rule)
        wanted = {normalize_text(e) for e in accepted}
        # "The answer is Tuesday" and "Tuesday" both count; so does a final
        # line that merely starts with the accepted answer ("Tuesday, because ...").
        ok = got in wanted or any(got.startswith(w + " ") for w in wanted if w)
        return Verdict(ok, got, rule)
    if match == MATCH_REGEX:
        for pattern in accepted:
            try:
                m = re.search(pattern, answer, _REGEX_FLAGS)
            except re.error:
                # Task files are checked when loaded; a pattern stored by an
                # older version must not end a benchmark: it matches nothing.
                log.warning("regex answer %r does not compile; marked wrong", pattern)
                continue
            if m:
                return Verdict(True, m.group(0), "regex")
        return Verdict(False, None, "regex")
    if match == MATCH_CHOICE:
        got, rule = extract_choice_with_rule(answer)
        return Verdict(got is not None and got in {e.strip().upper() for e in accepted}, got, rule)
    raise ValueError(f"unknown match kind {match!r}; use one of {', '.join(MATCH_KINDS)}")
