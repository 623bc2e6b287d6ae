"""What is computed from a results document alone, never while measuring.

A document is read once into a RunResults (runresults; check refuses a damaged one): each cell
read with its records over its window (metrics, rawrecords, openloop) and every figure declared
in figuredefs computed once; sweep points; capacity curves (curves). Made from that: the figures
document (figures, figure_rows), statistics (stats, comparisons), and the reports: HTML with
charts, Markdown, the terminal verdict (summary) and the comparison of two runs (diff). The
run's self-check: its figures against the independent client's (crosscheck).
"""

from compare.report.html import render_html
from compare.report.markdown import render_markdown
from compare.report.writer import write_reports

__all__ = ["render_html", "render_markdown", "write_reports"]
