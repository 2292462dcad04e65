"""``shard-assets check-hosts``, the live check after deploying (the ``check`` extra):
reaching the hosts (``connect``), fetching (``fetch``), the verdicts (``model``),
the run (``hosts``) and its text and JSON (``text``)."""
