"""Engines orchestrate the stage functions over many files; they hold no stage logic of their own."""
