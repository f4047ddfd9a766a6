#!/usr/bin/env python3
"""Thin entry point: ``python cli.py ...`` is the same as the installed ``mmvideo`` command."""

from mmvideo.cli import main

if __name__ == "__main__":
    main()
