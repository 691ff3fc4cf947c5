"""The demo's sample repository: a small real package with a real bug and its tests."""

FILES = {
    "README.md": "# textkit\n\nSmall text helpers.\n\n    python -m unittest discover -s tests -t .\n",
    "pyproject.toml": (
        '[project]\nname = "textkit"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n'
    ),
    "textkit/__init__.py": '"""Small text helpers."""\n\nfrom textkit.slug import slugify\n\n__all__ = ["slugify"]\n',
    "textkit/slug.py": (
        '"""Turn titles into URL slugs."""\n\nimport re\n\n\n'
        "def slugify(text: str) -> str:\n"
        '    """Lower-case `text` and replace every character that is not a letter or digit with a dash."""\n'
        '    return re.sub(r"[^a-z0-9]", "-", text.lower())\n'
    ),
    "tests/__init__.py": "",
    "tests/test_slug.py": (
        "import unittest\n\nfrom textkit.slug import slugify\n\n\n"
        "class SlugifyTest(unittest.TestCase):\n"
        "    def test_lowercases(self):\n"
        '        self.assertEqual(slugify("Hello"), "hello")\n\n'
        "    def test_space_becomes_dash(self):\n"
        '        self.assertEqual(slugify("a b"), "a-b")\n'
    ),
}

ISSUE_TITLE = "slugify leaves repeated and trailing dashes"
ISSUE_BODY = """`slugify("Hello,  World!")` returns `hello---world-` instead of `hello-world`.

Every run of characters that are not letters or digits should become a single dash, and a slug
should never start or end with a dash. Existing behaviour (lower-casing, spaces to dashes) must
not change.
"""
