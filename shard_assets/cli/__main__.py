"""``python -m shard_assets.cli``: the ``shard-assets`` command."""

import sys

from .commands import main

sys.exit(main())
