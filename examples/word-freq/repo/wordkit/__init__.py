from .freq import top_words

__all__ = ["top_words"]
