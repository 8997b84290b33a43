"""Operator tooling: ``manage.py`` commands and the helpers they share."""
