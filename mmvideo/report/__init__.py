"""``mmvideo report``: a static HTML report of an output folder that opens from disk (no server, no internet)."""

from mmvideo.report.build import ReportResult, build_report

__all__ = ["ReportResult", "build_report"]
