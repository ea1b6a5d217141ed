import unittest

from textkit import slugify


class TestSlugify(unittest.TestCase):
    def test_lowercase(self):
        self.assertEqual(slugify("Hello"), "hello")

    def test_single_spaces(self):
        self.assertEqual(slugify("hello big world"), "hello-big-world")
