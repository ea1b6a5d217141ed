from collections import Counter


def top_words(text, n):
    """The n most common words of text with their counts, most common first."""
    counts = Counter(text.split())
    return counts.most_common(n)
