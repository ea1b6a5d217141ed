import unittest

from timekit import parse_duration


class TestParseDuration(unittest.TestCase):
    def test_hours_and_minutes(self):
        self.assertEqual(parse_duration("1h30m"), 5400)

    def test_rejects_garbage(self):
        with self.assertRaises(ValueError):
            parse_duration("soon")
