"""The audit log: recording, the action registry, asynchronous processing, retention, export and
its Admin Center pages, one job per module (see docs/architecture.md).

Import the module you need (``admincenter.audit.record`` for ``audit_record``); this package
file imports nothing, so importing one part never loads the rest.
"""
