import unittest

from calc import add


class TestAdd(unittest.TestCase):
    def test_add_ints(self):
        self.assertEqual(add(2, 3), 5)

    def test_add_floats(self):
        self.assertAlmostEqual(add(0.1, 0.2), 0.3)
