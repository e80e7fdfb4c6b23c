"""``python -m obsstore.cli``."""

from obsstore.cli import main

raise SystemExit(main())
