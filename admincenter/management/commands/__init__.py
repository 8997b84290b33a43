"""Operator commands (``python manage.py <command>``). Every write goes through
``admincenter.services`` with an operator actor; see ``admincenter.management.base``."""
