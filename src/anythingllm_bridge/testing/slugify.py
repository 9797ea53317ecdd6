"""The npm ``slugify`` package (1.6.x) as AnythingLLM uses it, for workspace, thread and file names.

``slugify(text)`` is the plain library (the collector's file names); ``anythingllm_slugify(text)`` adds the
character map the server extends it with (``+`` → `` plus ``, ``!`` → `` bang ``, ``@`` → `` at ``,
``*`` → `` splat ``, ``.`` → `` dot ``; ``: ~ ( ) ' " |`` removed). The library works character by
character: a mapped character is replaced, a character whose replacement is ``-`` becomes a space,
everything outside ``[A-Za-z0-9_\\s$*+~.()'"!\\-:@]`` is deleted, the result is trimmed and each run of
whitespace becomes ``-``. Latin letters with accents fold to their base letter; other scripts vanish.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["anythingllm_slugify", "slugify", "strip_and_slug"]

# The library's own map, for the characters that matter in practice (symbols and letters that do not
# decompose into ASCII under NFKD). Accented Latin letters are handled by decomposition below.
_CHARMAP: dict[str, str] = {
    "$": "dollar", "%": "percent", "&": "and", "<": "less", ">": "greater", "|": "or",
    "¢": "cent", "£": "pound", "¤": "currency", "¥": "yen", "©": "(c)", "ª": "a", "®": "(r)", "º": "o",
    "Æ": "AE", "Ð": "D", "Ø": "O", "Þ": "TH", "ß": "ss", "æ": "ae", "ð": "d", "ø": "o", "þ": "th",
    "Đ": "DJ", "đ": "dj", "Ħ": "H", "ħ": "h", "ı": "i", "Ĳ": "IJ", "ĳ": "ij", "ĸ": "k", "Ŀ": "L",
    "ŀ": "l", "Ł": "L", "ł": "l", "Ŋ": "N", "ŋ": "n", "Œ": "OE", "œ": "oe", "Ŧ": "T", "ŧ": "t",
    "ſ": "s", "ƒ": "f", "Ə": "E", "ə": "e",
    "‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "†": "+", "•": "*", "…": "...",
    "₠": "ecu", "₢": "cruzeiro", "₣": "french franc", "₤": "lira", "₥": "mill", "₦": "naira",
    "₧": "peseta", "₨": "rupee", "₩": "won", "₪": "new shequel", "₫": "dong", "€": "euro", "₭": "kip",
    "₮": "tugrik", "₯": "drachma", "₰": "penny", "₱": "peso", "₲": "guarani", "₳": "austral",
    "₴": "hryvnia", "₵": "cedi", "₸": "kazakhstani tenge", "₹": "indian rupee", "₺": "turkish lira",
    "₽": "russian ruble", "₿": "bitcoin", "℠": "sm", "™": "tm", "∂": "d", "∆": "delta", "∑": "sum",
    "∞": "infinity", "♥": "love", "元": "yuan", "円": "yen", "﷼": "rial",
    # Greek
    "Α": "A", "Β": "B", "Γ": "G", "Δ": "D", "Ε": "E", "Ζ": "Z", "Η": "H", "Θ": "8", "Ι": "I", "Κ": "K",
    "Λ": "L", "Μ": "M", "Ν": "N", "Ξ": "3", "Ο": "O", "Π": "P", "Ρ": "R", "Σ": "S", "Τ": "T", "Υ": "Y",
    "Φ": "F", "Χ": "X", "Ψ": "PS", "Ω": "W", "α": "a", "β": "b", "γ": "g", "δ": "d", "ε": "e", "ζ": "z",
    "η": "h", "θ": "8", "ι": "i", "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "3", "ο": "o", "π": "p",
    "ρ": "r", "ς": "s", "σ": "s", "τ": "t", "υ": "y", "φ": "f", "χ": "x", "ψ": "ps", "ω": "w",
    # Cyrillic
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Д": "D", "Е": "E", "Ё": "Yo", "Ж": "Zh", "З": "Z", "И": "I",
    "Й": "J", "К": "K", "Л": "L", "М": "M", "Н": "N", "О": "O", "П": "P", "Р": "R", "С": "S", "Т": "T",
    "У": "U", "Ф": "F", "Х": "H", "Ц": "C", "Ч": "Ch", "Ш": "Sh", "Щ": "Sh", "Ъ": "U", "Ы": "Y", "Ь": "",
    "Э": "E", "Ю": "Yu", "Я": "Ya", "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e",
    "ё": "yo", "ж": "zh", "з": "z", "и": "i", "й": "j", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "c", "ч": "ch", "ш": "sh",
    "щ": "sh", "ъ": "u", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    "Є": "Ye", "І": "I", "Ї": "Yi", "Ґ": "G", "є": "ye", "і": "i", "ї": "yi", "ґ": "g",
}  # fmt: skip

# AnythingLLM's `slugify.extend(...)` in server/utils/slugify (applied to workspace and thread slugs).
_ANYTHINGLLM_MAP: dict[str, str] = {
    **_CHARMAP,
    "+": " plus ", "!": " bang ", "@": " at ", "*": " splat ", ".": " dot ",
    ":": "", "~": "", "(": "", ")": "", "'": "", '"': "", "|": "",
}  # fmt: skip

_NOT_ALLOWED = re.compile(r"""[^A-Za-z0-9_\s$*+~.()'"!\-:@]+""")
_WHITESPACE = re.compile(r"\s+")


def _fold(ch: str) -> str:
    """An accented Latin letter → its ASCII base letter (``é`` → ``e``); anything else unchanged."""
    decomposed = unicodedata.normalize("NFKD", ch)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    return base if base and base.isascii() and base.isalpha() else ch


def _slugify(text: str, charmap: dict[str, str], *, lower: bool, replacement: str = "-") -> str:
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        mapped = charmap.get(ch)
        if mapped is None:
            mapped = ch if ch.isascii() else _fold(ch)
        if mapped == replacement:
            mapped = " "
        out.append(_NOT_ALLOWED.sub("", mapped))
    slug = _WHITESPACE.sub(replacement, "".join(out).strip())
    return slug.lower() if lower else slug


def slugify(text: str, *, lower: bool = False) -> str:
    """The plain library (the collector's document file names): ``"My Report (final).pdf"`` →
    ``"My-Report-(final).pdf"``."""
    return _slugify(text, _CHARMAP, lower=lower)


def anythingllm_slugify(text: str, *, lower: bool = True) -> str:
    """The server's extended slugify: ``"My Test Workspace!"`` → ``"my-test-workspace-bang"``.

    Thread slugs use ``lower=False`` (the server passes ``{lowercase: true}``, which is not an option).
    """
    return _slugify(text, _ANYTHINGLLM_MAP, lower=lower)


def strip_and_slug(title: str) -> str:
    """The collector's raw-text naming: drop the last ``.ext``, slugify, lower-case
    (``"Hello World.txt"`` → ``"hello-world"``)."""
    if "." not in title:
        return slugify(title, lower=True)
    return slugify("-".join(title.split(".")[:-1]), lower=True)
