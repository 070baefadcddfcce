"""Batch report: explain every clip of a folder into a self-contained HTML page (issue #9).
Headless: the ``l2i report`` command and File > Batch report... both call ``batch_report``."""

from engine.tools.report.run import ReportResult, batch_report

__all__ = ["ReportResult", "batch_report"]
