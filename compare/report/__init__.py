"""Reports made from a results document: HTML with charts, Markdown, the terminal verdict."""

from compare.report.html import render_html
from compare.report.markdown import render_markdown
from compare.report.writer import write_reports

__all__ = ["render_html", "render_markdown", "write_reports"]
