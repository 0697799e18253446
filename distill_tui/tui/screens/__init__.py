"""Screens and dialogs: one per file (the editor, help, confirm, prompt)."""
