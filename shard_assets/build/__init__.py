"""The build: pass one (``scan``), the plan and its checks (``pipeline``), pass two
(``rewrite``), the pages a generator hands over (``handover``), the staged writes
(``commit``), what the assets weigh (``measures``) and the unsharded copy."""
