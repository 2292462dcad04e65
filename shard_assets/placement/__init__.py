"""Which host serves each asset: the ketama ring and the other algorithms, the
assignment (pins, the manifest first, bounded loads), and the balance gate."""
