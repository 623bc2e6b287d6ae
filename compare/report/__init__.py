"""What is computed from a results document alone, never while measuring.

The figures of a cell or sweep point (metrics, rawrecords, openloop, stats), capacity curves
(curves), the figures document (figure_rows, figures), and the reports made from them: HTML with
charts, Markdown, the terminal verdict (summary) and the comparison of two runs (diff).
"""

from compare.report.html import render_html
from compare.report.markdown import render_markdown
from compare.report.writer import write_reports

__all__ = ["render_html", "render_markdown", "write_reports"]
