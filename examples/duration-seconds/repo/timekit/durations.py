import re

_UNITS = {"h": 3600, "m": 60}
_PART = re.compile(r"(\d+)([a-z])")


def parse_duration(text):
    """Parse durations like "1h30m" or "45s" into a number of seconds."""
    text = text.strip().lower()
    if not text or not re.fullmatch(r"(\d+[a-z])+", text):
        raise ValueError("invalid duration: %r" % text)
    total = 0
    for amount, unit in _PART.findall(text):
        if unit not in _UNITS:
            raise ValueError("unknown unit %r in %r" % (unit, text))
        total += int(amount) * _UNITS[unit]
    return total
