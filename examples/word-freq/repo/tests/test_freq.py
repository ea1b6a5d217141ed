import unittest

from wordkit import top_words


class TestTopWords(unittest.TestCase):
    def test_counts(self):
        self.assertEqual(top_words("a b a", 1), [("a", 2)])

    def test_n_larger_than_vocabulary(self):
        self.assertEqual(len(top_words("x y", 5)), 2)
