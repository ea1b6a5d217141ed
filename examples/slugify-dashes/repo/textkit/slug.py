import re


def slugify(title):
    """Turn a title into a URL slug: lower case, words joined by single dashes."""
    lowered = title.strip().lower()
    return re.sub(r"[^a-z0-9]", "-", lowered)
