"""What a browser would make of an email's HTML: its tags, link targets and visible text."""

from __future__ import annotations

from html.parser import HTMLParser


class HtmlParts(HTMLParser):
    def __init__(self, html: str = "") -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        if html:
            self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [value for name, value in attrs if name == "href"]

    def handle_data(self, data):
        self.text.append(data)
