"""``shard-assets report``: its figures (``model``) and their renderings as text, JSON
(``text``) and a self-contained HTML page (``html``)."""
