"""Exports of an output folder for other tools: CSV (spreadsheets), CMX3600 EDL (editors), WebVTT chapters and
SRT/WebVTT tag captions (players). Each format is a pure function from ``VideoTags`` to text; ``rows`` reads them.
"""
