"""Write report.html and report.md beside a results document, atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from compare.errors import CompareError
from compare.report.html import render_html
from compare.report.markdown import render_markdown
from compare.report.runresults import RunResults

HTML_FILE = "report.html"
MARKDOWN_FILE = "report.md"


def write_atomic(path: Path, text: str) -> Path:
    """Write text to a temporary file beside path and rename it over path."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_reports(results: RunResults, directory: Path) -> list[Path]:
    """Render both reports of a run and write them into ``directory``; return their paths."""
    # Both are rendered before either is written: a failure leaves the old reports whole.
    rendered = {HTML_FILE: render_html(results), MARKDOWN_FILE: render_markdown(results)}
    try:
        return [write_atomic(directory / name, text) for name, text in rendered.items()]
    except OSError as error:
        raise CompareError(
            f"cannot write the report in {directory}: {error.strerror or error}"
        ) from None
